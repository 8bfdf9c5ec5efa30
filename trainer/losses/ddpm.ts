// The DDPM training loss (Ho et al. 2020, Algorithm 1; DESIGN §3.1): pick
// t ~ U{1..T}, form x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, and regress
// the network's prediction (eps, x0 or v) on its target with L1 (Medical
// Diffusion's default) or L2. Labels dropped to the null label with
// probability p_uncond train the unconditional branch of classifier-free
// guidance (Ho and Salimans 2022). Optionally each example's error is
// weighted by Min-SNR-gamma (Hang et al. 2023, "Efficient Diffusion Training
// via Min-SNR Weighting Strategy", eq. 5 and its table of equivalents): the
// x0-error weight min(SNR_t, gamma), which for the network's own target is
//   eps: min(SNR, gamma) / SNR,   x0: min(SNR, gamma),   v: min(SNR, gamma) / (SNR + 1)
// with SNR_t = abar_t / (1 - abar_t): the low-noise steps, whose easy
// targets dominate the gradient otherwise, stop crowding out the rest.
import * as tf from '@tensorflow/tfjs-core';
import type { Model, Params } from '../../shared/models/types.ts';
import { addNoise, predictionTarget, type Prediction } from '../../shared/schedules/prediction.ts';
import type { DiscreteSchedule } from '../../shared/schedules/index.ts';
import type { Objective } from './objective.ts';

/** The randomness of one loss evaluation, drawn by the caller (seeded). */
export interface DdpmNoise {
  /** [B] step indices in 1..T. */
  t: Int32Array;
  /** N(0, I) of x0's shape. */
  eps: tf.Tensor;
}

export interface DdpmLossOptions {
  loss: 'l1' | 'l2';
  prediction: Prediction;
  /** Min-SNR-gamma weighting (Hang et al. 2023); 0 = every example weighs 1. */
  minSnrGamma?: number;
  /** [B] labels after dropout (the null label where dropped). */
  label?: tf.Tensor1D;
}

/** The Min-SNR-gamma weight of an example at SNR `snr` for a network predicting `prediction`. */
export function minSnrWeight(snr: number, gamma: number, prediction: Prediction): number {
  const clipped = Math.min(snr, gamma);
  return prediction === 'eps' ? clipped / snr : prediction === 'x0' ? clipped : clipped / (snr + 1);
}

/** Mean L1 or L2 error over every element (each example's weighted by Min-SNR-gamma when set). x0 [B, ...] in [-1, 1]. */
export function ddpmLoss(model: Model<unknown>, params: Params, schedule: DiscreteSchedule, x0: tf.Tensor, noise: DdpmNoise, opts: DdpmLossOptions): tf.Scalar {
  const b = x0.shape[0];
  if (noise.t.length !== b) throw new Error(`ddpm loss: ${noise.t.length} steps for a batch of ${b}`);
  const { T, alphasCumprod } = schedule;
  for (const i of noise.t) if (!(i >= 1 && i <= T)) throw new Error(`ddpm loss: step ${i} outside 1..${T}`);
  return tf.tidy(() => {
    const alpha = tf.tensor1d(Array.from(noise.t, (i) => Math.sqrt(alphasCumprod[i])));
    const sigma = tf.tensor1d(Array.from(noise.t, (i) => Math.sqrt(1 - alphasCumprod[i])));
    const xt = addNoise(x0, noise.eps, alpha, sigma);
    const t = tf.tensor1d(Array.from(noise.t, (i) => i / T));
    const out = model.apply(params, xt, t, opts.label ? { label: opts.label } : undefined);
    const target = predictionTarget(opts.prediction, x0, noise.eps, alpha, sigma);
    const err = tf.sub(out, target);
    const perElement = opts.loss === 'l1' ? tf.abs(err) : tf.square(err);
    if (!opts.minSnrGamma) return tf.mean(perElement) as tf.Scalar;
    const snr = (i: number) => alphasCumprod[i] / (1 - alphasCumprod[i]);
    const w = tf.tensor1d(Array.from(noise.t, (i) => minSnrWeight(snr(i), opts.minSnrGamma!, opts.prediction)));
    return tf.mean(tf.mul(tf.mean(tf.reshape(perElement, [b, -1]), 1), w)) as tf.Scalar;
  });
}

/** Algorithm 1 as the Trainer's objective: t ~ U{1..T}, then eps, both from the caller's rng. */
export function ddpmObjective(model: Model<unknown>, schedule: DiscreteSchedule, opts: Omit<DdpmLossOptions, 'label'>): Objective {
  return {
    bitsPerDim: false,
    draw: (shape, rng) => {
      const t = Int32Array.from({ length: shape[0] }, () => 1 + rng.int(schedule.T));
      return { t, eps: rng.normal(shape.reduce((a, b) => a * b, 1)) };
    },
    loss: (params, x0, label, draws) => {
      const eps = tf.tensor(draws.eps as Float32Array, x0.shape);
      try {
        return { loss: ddpmLoss(model, params, schedule, x0, { t: draws.t as Int32Array, eps }, { ...opts, label }) };
      } finally {
        eps.dispose();
      }
    },
  };
}
