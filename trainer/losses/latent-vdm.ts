// The latent VDM loss (Medical VDM, DESIGN §3.2): the VDM bound of
// Kingma et al. 2021 with data f = Enc(x), the ResNet encoder's latents,
// and the image's likelihood given z_0 through the ResNet decoder; encoder,
// decoder, score network and a learned schedule train together. Per
// example, in nats:
//   reconstruction  -log p(x | z_0), z_0 / alpha_0 = f + e^{gamma_0 / 2} eps_0, under a
//                   discretised logistic per pixel (Salimans et al. 2017, PixelCNN++ eq. 2)
//                   with the decoder's mean and log-scale, over the data's `vocabSize` levels
//   latent (prior)  KL(q(z_1 | f) || N(0, I)) over the latent grid
//   diffusion       0.5 gamma'(t) ||eps - eps_hat(z_t, gamma_t)||^2 over the latent grid (eq. 17)
// Bits per dimension count image pixels: total / (H W C ln 2).
import * as tf from '@tensorflow/tfjs-core';
import { decoderOutputs } from '../../shared/models/autoencoder2d.ts';
import type { LatentVdm } from '../../shared/models/latent-vdm.ts';
import type { Params } from '../../shared/models/types.ts';
import { gammaFn, type GammaFn } from '../../shared/schedules/gamma-tensor.ts';
import type { ScheduleConfig } from '../../shared/schedules/index.ts';
import type { Objective } from './objective.ts';
import { antitheticTimes, diffusionTerm, levelIndex, perExample, priorKl, type VdmNoise, type VdmTerms } from './vdm.ts';

/**
 * log p(x) per element for x [..] on the grid of `vocabSize` levels in
 * [-1, 1] under a logistic of `mean` and log-scale `logScale` discretised to
 * the levels' bins, the end bins reaching to +-infinity (Salimans et al.
 * 2017, eq. 2). A bin's mass sigma(a) - sigma(b), a = (x + 1/V - mean) / s,
 * b = (x - 1/V - mean) / s, is taken as log sigma(a) + log(-expm1(log
 * sigma(b) - log sigma(a))) with log sigma(v) = -softplus(-v): exact in
 * float32 in both tails, where the plain difference cancels (PixelCNN++'s
 * density-at-the-centre stand-in is off by nats when the logistic is
 * narrower than a bin).
 */
export function discretizedLogisticLogLik(x: tf.Tensor, mean: tf.Tensor, logScale: tf.Tensor, vocabSize: number): tf.Tensor {
  return tf.tidy(() => {
    const k = levelIndex(x, vocabSize);
    const centre = tf.sub(tf.div(tf.mul(tf.add(tf.cast(k, 'float32'), 0.5), 2), vocabSize), 1);
    const invScale = tf.exp(tf.neg(logScale));
    const centred = tf.sub(centre, mean);
    const logSigmoidA = tf.neg(tf.softplus(tf.neg(tf.mul(invScale, tf.add(centred, 1 / vocabSize)))));
    const b = tf.mul(invScale, tf.sub(centred, 1 / vocabSize));
    const logSigmoidB = tf.neg(tf.softplus(tf.neg(b)));
    const logOneMinusSigmoidB = tf.neg(tf.softplus(b));
    // The floor keeps the log finite (and its gradient defined) where a bin's mass underflows float32.
    const inner = tf.add(logSigmoidA, tf.log(tf.maximum(tf.neg(tf.expm1(tf.sub(logSigmoidB, logSigmoidA))), 1e-30)));
    return tf.where(tf.equal(k, 0), logSigmoidA, tf.where(tf.equal(k, vocabSize - 1), logOneMinusSigmoidB, inner));
  });
}

/** The three terms for images x [B, H, W, C] on the vocab grid; noise eps_0 and eps have the latent grid's shape. */
export function latentVdmTerms(model: LatentVdm, params: Params, g: GammaFn, x: tf.Tensor4D, noise: VdmNoise, opts: { steps: number; vocabSize: number; label?: tf.Tensor1D }): VdmTerms {
  if (noise.t.length !== x.shape[0]) throw new Error(`latent vdm loss: ${noise.t.length} times for a batch of ${x.shape[0]}`);
  return tf.tidy(() => {
    const [g0, g1] = [0, 1].map((t) => g.gamma(tf.fill([1], t) as tf.Tensor1D));
    const f = model.encode(params, x);
    const z0Rescaled = tf.add(f, tf.mul(noise.eps0, tf.exp(tf.mul(g0, 0.5)))) as tf.Tensor4D;
    const { mean, logScale } = decoderOutputs(params, model.config.autoencoder, z0Rescaled);
    const recon = tf.neg(perExample(discretizedLogisticLogLik(x, mean, logScale, opts.vocabSize)));
    const latent = priorKl(f, tf.sigmoid(g1));
    const diffusion = diffusionTerm(model, params, g, f, noise.eps, noise.t, opts);
    return { recon, latent, diffusion };
  });
}

/** The latent VDM bound as the Trainer's objective: the batch mean of each term in bits per image dimension. */
export function latentVdmObjective(model: LatentVdm, schedule: ScheduleConfig, opts: { steps: number; vocabSize: number }): Objective {
  const latentSize = [...model.input.shape!, model.input.channels].reduce((a, b) => a * b, 1);
  return {
    bitsPerDim: true,
    // u0 for the whole batch, then eps_0 and eps on the latent grid.
    draw: (shape, rng) => ({ t: antitheticTimes(rng.uniform(1)[0], shape[0]), eps0: rng.normal(shape[0] * latentSize), eps: rng.normal(shape[0] * latentSize) }),
    loss: (params, x, label, draws) => {
      const b = x.shape[0];
      const latentShape = [b, ...model.input.shape!, model.input.channels];
      const noise = { t: draws.t as Float32Array, eps0: tf.tensor(draws.eps0 as Float32Array, latentShape), eps: tf.tensor(draws.eps as Float32Array, latentShape) };
      try {
        return tf.tidy(() => {
          const terms = latentVdmTerms(model, params, gammaFn(schedule, params), x as tf.Tensor4D, noise, { ...opts, label });
          const perTerm = tf.div(tf.stack([terms.recon, terms.latent, terms.diffusion].map((t) => tf.mean(t))), (x.size / b) * Math.LN2) as tf.Tensor1D;
          return { loss: tf.sum(perTerm) as tf.Scalar, terms: perTerm };
        });
      } finally {
        tf.dispose([noise.eps0, noise.eps]);
      }
    },
  };
}
