// The DDPM loss against Algorithm 1 by hand, with a network whose output is known.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { constantModel } from '../../helpers/constant-model.ts';
import { createSchedule, parseScheduleConfig, type DiscreteSchedule } from '../../../shared/schedules/index.ts';
import { ddpmLoss } from '../../../trainer/losses/ddpm.ts';
import { objectiveFor } from '../../../trainer/losses/index.ts';
import { parseTrainConfig } from '../../../trainer/config.ts';
import { tinyModel } from '../../helpers/tiny-models.ts';


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

  it.each(['eps', 'x0', 'v'] as const)('Min-SNR-gamma weights each example of a %s loss by min(SNR, gamma) in x0-error units', (prediction) => {
    const c = 0.3;
    const gamma = 2;
    const value = ddpmLoss(constantModel(c), new Map(), schedule, tf.tensor2d(x0, [2, 2]), { t, eps: tf.tensor2d(eps, [2, 2]) }, { loss: 'l2', prediction, minSnrGamma: gamma });
    // By hand: per example the mean squared error, times min(SNR, gamma) / SNR (eps), min(SNR, gamma) (x0), min(SNR, gamma) / (SNR + 1) (v).
    let want = 0;
    for (const b of [0, 1]) {
      const i = t[b];
      const [a, s] = [Math.sqrt(abar(i)), Math.sqrt(1 - abar(i))];
      const snr = abar(i) / (1 - abar(i));
      const w = prediction === 'eps' ? Math.min(snr, gamma) / snr : prediction === 'x0' ? Math.min(snr, gamma) : Math.min(snr, gamma) / (snr + 1);
      let mse = 0;
      for (const j of [2 * b, 2 * b + 1]) {
        const target = prediction === 'eps' ? eps[j] : prediction === 'x0' ? x0[j] : a * eps[j] - s * x0[j];
        mse += (c - target) ** 2 / 2;
      }
      want += (w * mse) / 2;
    }
    // The two steps straddle gamma (SNR 3.7 at t = 3, 0.25 at t = 7), so the clip acts on one and not the other.
    expect(abar(3) / (1 - abar(3))).toBeGreaterThan(gamma);
    expect(abar(7) / (1 - abar(7))).toBeLessThan(gamma);
    expect(value.dataSync()[0]).toBeCloseTo(want, 5);
  });

  it('Min-SNR-gamma is refused for a VDM, whose bound has its own weighting', () => {
    const vdm = tinyModel('vdm');
    expect(() => objectiveFor('vdm', vdm, parseScheduleConfig({ kind: 'vdm-fixed-linear' }), parseTrainConfig({ minSnrGamma: 5 }))).toThrow(/train\.minSnrGamma: applies to DDPM runs/);
  });

  it('rejects steps outside 1..T and a batch mismatch', () => {
    const m = constantModel(0);
    const x = tf.zeros([2, 2]);
    expect(() => ddpmLoss(m, new Map(), schedule, x, { t: Int32Array.from([0, 1]), eps: x }, { loss: 'l2', prediction: 'eps' })).toThrow(/outside 1..10/);
    expect(() => ddpmLoss(m, new Map(), schedule, x, { t: Int32Array.from([1]), eps: x }, { loss: 'l2', prediction: 'eps' })).toThrow(/batch of 2/);
  });
});
