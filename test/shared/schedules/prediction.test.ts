// Both directions of a schedule's prediction: the training target from
// (x0, eps) and toDenoised's conversion back must invert each other.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { addNoise, PREDICTIONS, predictionTarget, toDenoised } from '../../../shared/schedules/prediction.ts';

describe('addNoise / predictionTarget / toDenoised', () => {
  const x0 = tf.tensor4d([0.5, -0.25, 0.9, -1, 0.1, 0.3, -0.7, 0.2], [2, 2, 2, 1]);
  const eps = tf.tensor4d([1.2, -0.3, 0.05, 2, -1.1, 0.4, 0.6, -0.9], [2, 2, 2, 1]);
  // Two examples at two noise levels; alpha^2 + sigma^2 = 1.
  const alphas = [0.8, 0.28];
  const alpha = tf.tensor1d(alphas);
  const sigma = tf.tensor1d(alphas.map((a) => Math.sqrt(1 - a * a)));

  it('z_t = alpha x0 + sigma eps per example', async () => {
    const zt = await addNoise(x0, eps, alpha, sigma).data();
    const [x, e] = [await x0.data(), await eps.data()];
    for (let i = 0; i < 8; i++) {
      const a = alphas[i >> 2];
      expect(zt[i]).toBeCloseTo(a * x[i] + Math.sqrt(1 - a * a) * e[i], 6);
    }
  });

  it.each(PREDICTIONS)('%s: toDenoised of the target recovers x0 and eps', async (prediction) => {
    const before = tf.memory().numTensors;
    const zt = addNoise(x0, eps, alpha, sigma);
    const target = predictionTarget(prediction, x0, eps, alpha, sigma);
    // toDenoised takes one time point: check each example on its own.
    for (const b of [0, 1]) {
      const tp = { t: 0.5, alpha: alphas[b], sigma: Math.sqrt(1 - alphas[b] ** 2) };
      const pick = (x: tf.Tensor) => tf.slice(x, [b, 0, 0, 0], [1, 2, 2, 1]);
      const [tb, zb, xb, eb] = [target, zt, x0, eps].map(pick);
      const d = toDenoised(tb, zb, tp, prediction, false);
      expect(Array.from(await d.x0.data())).toEqual(Array.from(await xb.data()).map((v) => expect.closeTo(v, 5)));
      expect(Array.from(await d.eps.data())).toEqual(Array.from(await eb.data()).map((v) => expect.closeTo(v, 5)));
      tf.dispose([tb, zb, xb, eb, d.x0, d.eps]);
    }
    tf.dispose([zt, target]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
