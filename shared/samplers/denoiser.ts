// Wraps a network into the Denoiser the samplers call: feeds it the schedule's
// network time, applies classifier-free guidance, converts its prediction.
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseSchedule } from '../schedules/types.ts';
import { guidedOutput } from './guidance.ts';
import { toDenoised, type Prediction } from '../schedules/prediction.ts';
import type { Denoiser } from './types.ts';

/**
 * The network with its parameters bound: x [B, ...] at network time t in
 * [0, 1] (one time for the whole batch, so a caller can precompute the time
 * path per grid time), with optional class labels (B of them). The caller
 * owns the result; an engine outside tfjs answers asynchronously.
 */
export type Net = (x: tf.Tensor, t: number, labels?: readonly number[]) => tf.Tensor | Promise<tf.Tensor>;

export interface DenoiserOptions {
  net: Net;
  schedule: NoiseSchedule;
  prediction: Prediction;
  clipX0: boolean;
  /** One class label per example; with guidance w != 1 also `nullLabel`. */
  labels?: readonly number[];
  nullLabel?: number;
  guidance?: number;
}

export function makeDenoiser(o: DenoiserOptions): Denoiser {
  const w = o.guidance ?? 1;
  if (w !== 1 && (o.labels === undefined || o.nullLabel === undefined)) {
    throw new Error('guidance needs a class-conditional model and a label');
  }
  return async (x, tp) => {
    const tNet = o.schedule.networkTime(tp.t);
    const out = await (o.labels === undefined ? o.net(x, tNet) : guidedOutput((xx, labels) => o.net(xx, tNet, labels), x, o.labels, o.nullLabel ?? 0, w));
    try {
      return tf.tidy(() => toDenoised(out, x, tp, o.prediction, o.clipX0));
    } finally {
      out.dispose();
    }
  };
}
