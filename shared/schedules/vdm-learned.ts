// VDM learned monotone noise schedule (Kingma et al. 2021, §3.4 and appendix;
// google-research/vdm NoiseSchedule_NNet):
//   h = l1(t)                      1 unit, weight init gamma_max - gamma_min, bias init gamma_min
//   g = l2(2 (t - 0.5))            `features` units
//   g = 2 (sigmoid(g) - 0.5)
//   gamma(t) = h + l3(g) / features  1 unit, no bias
// Every dense layer uses |W| ("DenseMonotone"), so gamma is non-decreasing in t.
import * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../models/types.ts';
import { Rng } from '../rng.ts';
import { continuousSchedule } from './vdm-fixed.ts';
import { sigmoid, type NoiseSchedule } from './types.ts';

export const GAMMA_PREFIX = 'gamma.';

/** Parameters named gamma.l1.w [1,1], gamma.l1.b [1], gamma.l2.w [1,F], gamma.l2.b [F], gamma.l3.w [F,1]. */
export function initLearnedGamma(seed: number, gammaMin: number, gammaMax: number, features: number): Params {
  const rng = new Rng(seed, 0);
  const normal = (n: number) => rng.normal(n).map((v) => v * 1e-2); // flax normal() init, stddev 0.01
  return new Map<string, tf.Tensor>([
    [`${GAMMA_PREFIX}l1.w`, tf.tensor2d([[gammaMax - gammaMin]])],
    [`${GAMMA_PREFIX}l1.b`, tf.tensor1d([gammaMin])],
    [`${GAMMA_PREFIX}l2.w`, tf.tensor2d(normal(features), [1, features])],
    [`${GAMMA_PREFIX}l2.b`, tf.zeros([features])],
    [`${GAMMA_PREFIX}l3.w`, tf.tensor2d(normal(features), [features, 1])],
  ]);
}

function param(params: Params, name: string): tf.Tensor {
  const p = params.get(GAMMA_PREFIX + name);
  if (!p) throw new Error(`learned gamma schedule: parameter "${GAMMA_PREFIX + name}" is missing`);
  return p;
}

/** gamma(t) as a differentiable tensor op, for training. t: [B] -> [B]. */
export function learnedGammaTensor(params: Params, t: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const features = param(params, 'l2.b').size;
    const t2 = tf.reshape(t, [-1, 1]); // [B, 1]
    const h = tf.add(tf.matMul(t2, tf.abs(param(params, 'l1.w'))), param(params, 'l1.b')); // [B, 1]
    let g = tf.add(tf.matMul(tf.mul(tf.sub(t2, 0.5), 2), tf.abs(param(params, 'l2.w'))), param(params, 'l2.b')); // [B, F]
    g = tf.mul(tf.sub(tf.sigmoid(g), 0.5), 2);
    g = tf.div(tf.matMul(g, tf.abs(param(params, 'l3.w'))), features); // [B, 1]
    return tf.reshape(tf.add(h, g), [-1]) as tf.Tensor1D;
  });
}

/**
 * d gamma / dt as a differentiable tensor op (the continuous-time diffusion
 * loss weight, DESIGN §3.2), in closed form: with s_j = sigmoid(u w2_j + b2_j),
 * u = 2 (t - 0.5), gamma'(t) = |w1| + (1/F) sum_j |w3_j| 2 s_j (1 - s_j) 2 |w2_j|.
 * t: [B] -> [B].
 */
export function learnedGammaPrimeTensor(params: Params, t: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const features = param(params, 'l2.b').size;
    const w2 = tf.abs(param(params, 'l2.w')); // [1, F]
    const u = tf.mul(tf.sub(tf.reshape(t, [-1, 1]), 0.5), 2); // [B, 1]
    const s = tf.sigmoid(tf.add(tf.matMul(u, w2), param(params, 'l2.b'))); // [B, F]
    const ds = tf.mul(tf.mul(s, tf.sub(1, s)), tf.mul(w2, 4)); // d(2 (s - 0.5)) / dt, [B, F]
    const slope = tf.div(tf.matMul(ds, tf.abs(param(params, 'l3.w'))), features); // [B, 1]
    return tf.reshape(tf.add(slope, tf.abs(param(params, 'l1.w'))), [-1]) as tf.Tensor1D;
  });
}

/**
 * The sampling-time schedule: weights are read once and gamma(t) is evaluated
 * in float64 JavaScript, so sampling does no tensor work for the schedule.
 */
export function vdmLearned(params: Params, gammaMin: number, gammaMax: number): NoiseSchedule {
  const w1 = Math.abs(param(params, 'l1.w').dataSync()[0]);
  const b1 = param(params, 'l1.b').dataSync()[0];
  const w2 = Float64Array.from(param(params, 'l2.w').dataSync(), Math.abs);
  const b2 = Float64Array.from(param(params, 'l2.b').dataSync());
  const w3 = Float64Array.from(param(params, 'l3.w').dataSync(), Math.abs);
  if (w2.length !== b2.length || w3.length !== b2.length) {
    throw new Error(`learned gamma schedule: l2/l3 sizes disagree (${w2.length}, ${b2.length}, ${w3.length})`);
  }
  const gamma = (t: number): number => {
    const u = 2 * (t - 0.5);
    let acc = 0;
    for (let j = 0; j < w2.length; j++) acc += 2 * (sigmoid(u * w2[j] + b2[j]) - 0.5) * w3[j];
    return w1 * t + b1 + acc / w2.length;
  };
  return continuousSchedule('vdm-learned', gamma, gammaMin, gammaMax);
}
