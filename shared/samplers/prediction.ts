// What the network predicts, and the conversion to both eps and x0 form
// (x_t = alpha x0 + sigma eps; v = alpha eps - sigma x0, Salimans and Ho 2022).
import * as tf from '@tensorflow/tfjs-core';
import type { TimePoint } from '../schedules/types.ts';
import type { Denoised } from './types.ts';

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
