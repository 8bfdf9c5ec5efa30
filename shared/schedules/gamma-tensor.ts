// The continuous schedules' gamma in tensor form, for training: a VDM loss
// differentiates through gamma(t) and gamma'(t) (and a learned schedule's
// parameters), while sampling uses the scalar NoiseSchedule of the same file.
import * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../models/types.ts';
import { isContinuousSchedule, type ScheduleConfig } from './config.ts';
import { fixedLinearGammaTensor } from './vdm-fixed.ts';
import { learnedGammaPrimeTensor, learnedGammaTensor } from './vdm-learned.ts';

/** gamma and gamma' as differentiable tensor functions of t [B]. */
export interface GammaFn {
  gamma(t: tf.Tensor1D): tf.Tensor1D;
  gammaPrime(t: tf.Tensor1D): tf.Tensor1D;
  /** The network's time input: gamma normalised by the configured [gammaMin, gammaMax]. */
  networkTime(gamma: tf.Tensor1D): tf.Tensor1D;
}

export function gammaFn(schedule: ScheduleConfig, params: Params): GammaFn {
  if (!isContinuousSchedule(schedule)) {
    throw new Error(`schedule.kind: the VDM loss needs vdm-fixed-linear or vdm-learned, got ${schedule.kind}`);
  }
  const { gammaMin, gammaMax } = schedule;
  const networkTime = (g: tf.Tensor1D) => tf.div(tf.sub(g, gammaMin), gammaMax - gammaMin) as tf.Tensor1D;
  if (schedule.kind === 'vdm-learned') {
    return { gamma: (t) => learnedGammaTensor(params, t), gammaPrime: (t) => learnedGammaPrimeTensor(params, t), networkTime };
  }
  return {
    gamma: (t) => fixedLinearGammaTensor(t, gammaMin, gammaMax),
    gammaPrime: (t) => tf.fill(t.shape, gammaMax - gammaMin) as tf.Tensor1D,
    networkTime,
  };
}
