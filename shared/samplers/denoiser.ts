// Wraps a network into the Denoiser the samplers call: feeds it the schedule's
// network time, applies classifier-free guidance, converts its prediction.
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseSchedule } from '../schedules/types.ts';
import { guidedOutput } from './guidance.ts';
import { toDenoised, type Prediction } from './prediction.ts';
import type { Denoiser } from './types.ts';

/** The network with its parameters bound: x [B, ...], t [B] in [0, 1], optional labels [B]. */
export type Net = (x: tf.Tensor, t: tf.Tensor1D, label?: tf.Tensor1D) => tf.Tensor;

export interface DenoiserOptions {
  net: Net;
  schedule: NoiseSchedule;
  prediction: Prediction;
  clipX0: boolean;
  /** Class labels [B]; with guidance w != 1 also `nullLabel`. */
  label?: tf.Tensor1D;
  nullLabel?: number;
  guidance?: number;
}

export function makeDenoiser(o: DenoiserOptions): Denoiser {
  const w = o.guidance ?? 1;
  if (w !== 1 && (o.label === undefined || o.nullLabel === undefined)) {
    throw new Error('guidance needs a class-conditional model and a label');
  }
  return (x, tp) =>
    tf.tidy(() => {
      const tNet = o.schedule.networkTime(tp.t);
      const t = (n: number) => tf.fill([n], tNet) as tf.Tensor1D;
      const out =
        o.label === undefined
          ? o.net(x, t(x.shape[0]))
          : guidedOutput((xx, label) => o.net(xx, t(xx.shape[0]), label), x, o.label, o.nullLabel ?? 0, w);
      return toDenoised(out, x, tp, o.prediction, o.clipX0);
    });
}
