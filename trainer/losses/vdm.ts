// The VDM loss (Kingma et al. 2021, §3-4 and appendix; google-research/vdm
// `VDM.__call__`, DESIGN §3.2): for data x on a grid of `vocabSize` levels in
// [-1, 1], per example and summed over dimensions, in nats:
//   reconstruction  -log p(x | z_0), z_0 = alpha_0 x + sigma_0 eps_0, decoded
//                   by a softmax over the grid with logits -0.5 e^{-gamma_0} (z_0/alpha_0 - x_v)^2
//   latent (prior)  KL(q(z_1 | x) || N(0, I)) = 0.5 sum(sigma_1^2 + alpha_1^2 x^2 - log sigma_1^2 - 1)
//   diffusion       continuous T: 0.5 gamma'(t) ||eps - eps_hat(z_t, gamma_t)||^2   (eq. 17)
//                   discrete T:   0.5 T expm1(gamma_t - gamma_s) ||eps - eps_hat||^2, s = t - 1/T
// Their sum bounds -log p(x); bits per dimension = sum / (D ln 2).
import * as tf from '@tensorflow/tfjs-core';
import type { Model, Params } from '../../shared/models/types.ts';
import { addNoise } from '../../shared/schedules/prediction.ts';
import { gammaFn, type GammaFn } from '../../shared/schedules/gamma-tensor.ts';
import type { ScheduleConfig } from '../../shared/schedules/index.ts';
import type { Objective } from './objective.ts';

export interface VdmTerms {
  /** Per example [B], nats. */
  recon: tf.Tensor1D;
  latent: tf.Tensor1D;
  diffusion: tf.Tensor1D;
}

/** The randomness of one loss evaluation, drawn by the caller (seeded) so the loss is a pure function. */
export interface VdmNoise {
  /** [B] times in [0, 1) (antithetic, see antitheticTimes). */
  t: Float32Array;
  /** N(0, I) of x's shape, for z_0 and z_t. */
  eps0: tf.Tensor;
  eps: tf.Tensor;
}

/** t_i = (u0 + i / B) mod 1: a stratified batch of times, lowering the loss variance (VDM §4). */
export function antitheticTimes(u0: number, batch: number): Float32Array {
  return Float32Array.from({ length: batch }, (_, i) => (u0 + i / batch) % 1);
}

/** sum over every axis but the batch: [B, ...] -> [B]. */
export function perExample(x: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.reshape(x, [x.shape[0], -1]), 1) as tf.Tensor1D;
}


/** KL(N(alpha_1 x, sigma_1^2) || N(0, 1)) per example, summed over x's dimensions; var1 = sigma_1^2 [1]. */
export function priorKl(x: tf.Tensor, var1: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => tf.mul(perExample(tf.add(tf.mul(tf.sub(1, var1), tf.square(x)), tf.sub(tf.sub(var1, tf.log(var1)), 1))), 0.5) as tf.Tensor1D);
}

/**
 * The diffusion term per example for data x [B, ...] (eq. 17, or its
 * discrete-T form when steps > 0): z_t from x and eps at times t, the
 * network's eps_hat, weighted by gamma'(t) / 2.
 */
export function diffusionTerm(
  model: Model<unknown>,
  params: Params,
  g: GammaFn,
  x: tf.Tensor,
  eps: tf.Tensor,
  times: Float32Array,
  opts: { steps: number; label?: tf.Tensor1D },
): tf.Tensor1D {
  return tf.tidy(() => {
    // Snapped to the grid i/T when discrete.
    const tHost = opts.steps > 0 ? times.map((t) => Math.ceil(t * opts.steps) / opts.steps) : times;
    const t = tf.tensor1d(tHost);
    const gt = g.gamma(t);
    const varT = tf.sigmoid(gt);
    const zt = addNoise(x, eps, tf.sqrt(tf.sub(1, varT)) as tf.Tensor1D, tf.sqrt(varT) as tf.Tensor1D);
    const epsHat = model.apply(params, zt, g.networkTime(gt), opts.label ? { label: opts.label } : undefined);
    const mse = perExample(tf.square(tf.sub(eps, epsHat)));
    let weight: tf.Tensor1D;
    if (opts.steps > 0) {
      const gs = g.gamma(tf.sub(t, 1 / opts.steps) as tf.Tensor1D);
      weight = tf.mul(tf.mul(tf.expm1(tf.sub(gt, gs)), opts.steps), 0.5) as tf.Tensor1D;
    } else {
      weight = tf.mul(g.gammaPrime(t), 0.5) as tf.Tensor1D;
    }
    return tf.mul(weight, mse) as tf.Tensor1D;
  });
}

/** Each x's level index k on the grid of `vocabSize` levels 2 (k + 0.5) / V - 1 in [-1, 1], as int32 of x's shape. */
export function levelIndex(x: tf.Tensor, vocabSize: number): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.cast(tf.floor(tf.mul(tf.add(x, 1), vocabSize / 2)), 'int32'), 0, vocabSize - 1));
}

/**
 * The three VDM loss terms for x [B, H, W, C] (values on the vocab grid in
 * [-1, 1]). `steps` = 0 is continuous time. Differentiable in the model and
 * schedule parameters.
 */
export function vdmTerms(
  model: Model<unknown>,
  params: Params,
  g: GammaFn,
  x: tf.Tensor,
  noise: VdmNoise,
  opts: { steps: number; vocabSize: number; label?: tf.Tensor1D },
): VdmTerms {
  if (noise.t.length !== x.shape[0]) throw new Error(`vdm loss: ${noise.t.length} times for a batch of ${x.shape[0]}`);
  return tf.tidy(() => {
    const [g0, g1] = [0, 1].map((t) => g.gamma(tf.fill([1], t) as tf.Tensor1D));

    // Reconstruction: z_0 / alpha_0 = x + exp(gamma_0 / 2) eps_0 (since sigma/alpha = e^{gamma/2}).
    const z0Rescaled = tf.add(x, tf.mul(noise.eps0, tf.exp(tf.mul(g0, 0.5))));
    const levels = tf.linspace(-1 + 1 / opts.vocabSize, 1 - 1 / opts.vocabSize, opts.vocabSize); // 2 (k + 0.5) / V - 1
    const diff = tf.sub(tf.expandDims(z0Rescaled, -1), levels); // [..., V]
    const logits = tf.mul(tf.square(diff), tf.mul(tf.exp(tf.neg(g0)), -0.5));
    const logProbs = tf.logSoftmax(logits);
    // log p(x | z_0) is logProbs at x's level.
    const k = levelIndex(x, opts.vocabSize);
    const picked = tf.mul(logProbs, tf.reshape(tf.oneHot(tf.reshape(k, [-1]), opts.vocabSize), logProbs.shape));
    const recon = tf.neg(perExample(tf.sum(picked, -1)));

    const latent = priorKl(x, tf.sigmoid(g1));
    const diffusion = diffusionTerm(model, params, g, x, noise.eps, noise.t, opts);
    return { recon, latent, diffusion };
  });
}

/** Bits per dimension of a per-example bound in nats over D dimensions. */
export function bitsPerDim(nats: number, dims: number): number {
  return nats / (dims * Math.LN2);
}

/**
 * The VDM bound as the Trainer's objective: antithetic times, then eps_0 and
 * eps, from the caller's rng; the loss is the batch mean in bits per
 * dimension, and its terms [recon, latent, diffusion] likewise.
 */
export function vdmObjective(model: Model<unknown>, schedule: ScheduleConfig, opts: { steps: number; vocabSize: number }): Objective {
  return {
    bitsPerDim: true,
    // u0 for the whole batch (its times stay stratified when a thread takes some of its rows), then eps_0, eps.
    draw: (shape, rng) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return { t: antitheticTimes(rng.uniform(1)[0], shape[0]), eps0: rng.normal(n), eps: rng.normal(n) };
    },
    loss: (params, x, label, draws) => {
      const b = x.shape[0];
      const noise = { t: draws.t as Float32Array, eps0: tf.tensor(draws.eps0 as Float32Array, x.shape), eps: tf.tensor(draws.eps as Float32Array, x.shape) };
      try {
        return tf.tidy(() => {
          const terms = vdmTerms(model, params, gammaFn(schedule, params), x, noise, { ...opts, label });
          const perTerm = tf.div(tf.stack([terms.recon, terms.latent, terms.diffusion].map((t) => tf.mean(t))), (x.size / b) * Math.LN2) as tf.Tensor1D;
          return { loss: tf.sum(perTerm) as tf.Scalar, terms: perTerm };
        });
      } finally {
        tf.dispose([noise.eps0, noise.eps]);
      }
    },
  };
}
