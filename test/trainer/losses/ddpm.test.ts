// The DDPM loss against Algorithm 1 by hand, with a network whose output is known.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { constantModel } from '../../helpers/constant-model.ts';
import { createSchedule, type DiscreteSchedule } from '../../../shared/schedules/index.ts';
import { ddpmLoss } from '../../../trainer/losses/ddpm.ts';


describe('DDPM loss', () => {
  const schedule = createSchedule({ kind: 'cosine', T: 10 }) as DiscreteSchedule;
  const x0 = [0.5, -1, 0.25, 0];
  const eps = [1, -0.5, 2, 0.1];
  const t = Int32Array.from([3, 7]);
  const abar = (i: number) => schedule.alphasCumprod[i];

  it.each([
    ['eps', 'l2'],
    ['eps', 'l1'],
    ['x0', 'l2'],
    ['v', 'l1'],
  ] as const)('%s prediction, %s loss', (prediction, loss) => {
    const seen: { x: number[]; t: number[] }[] = [];
    const c = 0.3;
    const value = ddpmLoss(constantModel(c, seen), new Map(), schedule, tf.tensor2d(x0, [2, 2]), { t, eps: tf.tensor2d(eps, [2, 2]) }, { loss, prediction });
    let want = 0;
    x0.forEach((x, j) => {
      const i = t[Math.floor(j / 2)];
      const [a, s] = [Math.sqrt(abar(i)), Math.sqrt(1 - abar(i))];
      expect(seen[0].x[j]).toBeCloseTo(a * x + s * eps[j], 5); // x_t
      const target = prediction === 'eps' ? eps[j] : prediction === 'x0' ? x : a * eps[j] - s * x;
      want += loss === 'l1' ? Math.abs(c - target) : (c - target) ** 2;
    });
    expect(value.dataSync()[0]).toBeCloseTo(want / 4, 5);
    expect(seen[0].t).toEqual([0.3, 0.7].map(Math.fround));
  });

  it('rejects steps outside 1..T and a batch mismatch', () => {
    const m = constantModel(0);
    const x = tf.zeros([2, 2]);
    expect(() => ddpmLoss(m, new Map(), schedule, x, { t: Int32Array.from([0, 1]), eps: x }, { loss: 'l2', prediction: 'eps' })).toThrow(/outside 1..10/);
    expect(() => ddpmLoss(m, new Map(), schedule, x, { t: Int32Array.from([1]), eps: x }, { loss: 'l2', prediction: 'eps' })).toThrow(/batch of 2/);
  });
});
