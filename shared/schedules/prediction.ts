// What the network predicts, both ways: the training target from (x0, eps)
// and the conversion of an output back to both eps and x0 form
// (x_t = alpha x0 + sigma eps; v = alpha eps - sigma x0, Salimans and Ho 2022).
import * as tf from '@tensorflow/tfjs-core';
import type { TimePoint } from './types.ts';

/** The network's prediction at one grid point, in both eps and x0 form. */
// A type alias (not an interface) so tf.tidy accepts it as a TensorContainer.
export type Denoised = {
  eps: tf.Tensor;
  x0: tf.Tensor;
};

export const PREDICTIONS = ['eps', 'x0', 'v'] as const;
export type Prediction = (typeof PREDICTIONS)[number];

/**
 * Converts the network output at tp into (eps, x0). With `clipX0`, x0_hat is
 * clipped to the data range [-1, 1] (DDPM) and eps recomputed to match it.
 */
export function toDenoised(out: tf.Tensor, x: tf.Tensor, tp: TimePoint, prediction: Prediction, clipX0: boolean): Denoised {
  return tf.tidy(() => {
    const { alpha, sigma } = tp;
    let x0: tf.Tensor;
    let eps: tf.Tensor;
    switch (prediction) {
      case 'eps':
        eps = out;
        x0 = tf.div(tf.sub(x, tf.mul(out, sigma)), alpha);
        break;
      case 'x0':
        x0 = out;
        eps = sigma > 0 ? tf.div(tf.sub(x, tf.mul(out, alpha)), sigma) : tf.zerosLike(x);
        break;
      case 'v':
        x0 = tf.sub(tf.mul(x, alpha), tf.mul(out, sigma));
        eps = tf.add(tf.mul(x, sigma), tf.mul(out, alpha));
        break;
    }
    if (clipX0) {
      x0 = tf.clipByValue(x0, -1, 1);
      if (sigma > 0) eps = tf.div(tf.sub(x, tf.mul(x0, alpha)), sigma);
    }
    // tidy returns tensors it was handed as-is; clone so `out` stays the caller's.
    return { x0: x0 === out ? tf.clone(out) : x0, eps: eps === out ? tf.clone(out) : eps };
  });
}

/**
 * z_t = alpha x0 + sigma eps (DDPM eq. 4, VDM eq. 1) for x0 [B, ...] with
 * per-example alpha and sigma [B]: the forward direction of every schedule,
 * as training draws it (diffusers' `add_noise`). Differentiable in alpha and
 * sigma (a learned VDM schedule trains through them).
 */
export function addNoise(x0: tf.Tensor, eps: tf.Tensor, alpha: tf.Tensor1D, sigma: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(perExample(alpha, x0.rank), x0), tf.mul(perExample(sigma, x0.rank), eps)));
}

/** What a network of `prediction` type is trained to output at (x0, eps, alpha, sigma): eps, x0, or v = alpha eps - sigma x0. */
export function predictionTarget(prediction: Prediction, x0: tf.Tensor, eps: tf.Tensor, alpha: tf.Tensor1D, sigma: tf.Tensor1D): tf.Tensor {
  if (prediction === 'eps') return tf.clone(eps);
  if (prediction === 'x0') return tf.clone(x0);
  return tf.tidy(() => tf.sub(tf.mul(perExample(alpha, x0.rank), eps), tf.mul(perExample(sigma, x0.rank), x0)));
}

/** [B] -> [B, 1, ..., 1], broadcastable against a rank-`rank` batch. */
function perExample(v: tf.Tensor1D, rank: number): tf.Tensor {
  return tf.reshape(v, [v.shape[0], ...new Array(rank - 1).fill(1)]);
}
