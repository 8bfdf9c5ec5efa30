// The VDM loss terms against the formulas of DESIGN §3.2 evaluated by hand
// (float64 JavaScript) for fixed inputs, with a network whose output is known.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { constantModel } from '../../helpers/constant-model.ts';
import { initLearnedGamma, learnedGammaPrimeTensor, learnedGammaTensor, parseScheduleConfig } from '../../../shared/schedules/index.ts';
import { gammaFn } from '../../../shared/schedules/gamma-tensor.ts';
import { antitheticTimes, bitsPerDim, vdmTerms } from '../../../trainer/losses/vdm.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));


describe.each(TEST_BACKENDS)('VDM loss on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('matches the reconstruction, latent and continuous diffusion terms computed by hand', () => {
    const V = 4; // levels -0.75, -0.25, 0.25, 0.75
    const [gMin, gMax] = [-2, 3]; // moderate gamma_0 so the decoder is not trivially certain
    const schedule = parseScheduleConfig({ kind: 'vdm-fixed-linear', gammaMin: gMin, gammaMax: gMax });
    const xv = [-0.25, 0.75, 0.25, -0.75]; // B = 2 examples of 2 values
    const e0 = [0.3, -1.2, 0.8, 0.1];
    const e = [1.5, -0.5, 0.2, 2.0];
    const c = 0.4;
    const seen: { x: number[]; t: number[] }[] = [];
    const terms = vdmTerms(
      constantModel(c, seen),
      new Map(),
      gammaFn(schedule, new Map()),
      tf.tensor4d(xv, [2, 1, 2, 1]),
      { t: Float32Array.from([0.25, 0.75]), eps0: tf.tensor4d(e0, [2, 1, 2, 1]), eps: tf.tensor4d(e, [2, 1, 2, 1]) },
      { steps: 0, vocabSize: V },
    );
    const levels = [-0.75, -0.25, 0.25, 0.75];
    const gamma = (t: number) => gMin + (gMax - gMin) * t;
    const want = { recon: [0, 0], latent: [0, 0], diffusion: [0, 0] };
    const [g0, g1] = [gamma(0), gamma(1)];
    const var1 = sigmoid(g1);
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < 2; i++) {
        const j = 2 * b + i;
        const z = xv[j] + Math.exp(g0 / 2) * e0[j];
        const logits = levels.map((l) => -0.5 * Math.exp(-g0) * (z - l) ** 2);
        const m = Math.max(...logits);
        const lse = m + Math.log(logits.reduce((a, v) => a + Math.exp(v - m), 0));
        want.recon[b] -= logits[levels.indexOf(xv[j])] - lse;
        want.latent[b] += 0.5 * (var1 + (1 - var1) * xv[j] ** 2 - Math.log(var1) - 1);
        want.diffusion[b] += 0.5 * (gMax - gMin) * (e[j] - c) ** 2;
      }
    }
    // float32 arithmetic on O(1..10) values: ~1e-6 relative.
    Array.from(terms.recon.dataSync()).forEach((v, b) => expect(v).toBeCloseTo(want.recon[b], 4));
    Array.from(terms.latent.dataSync()).forEach((v, b) => expect(v).toBeCloseTo(want.latent[b], 4));
    Array.from(terms.diffusion.dataSync()).forEach((v, b) => expect(v).toBeCloseTo(want.diffusion[b], 4));
    // The network saw gamma_t normalised to [0, 1]: for a linear schedule that is t itself.
    expect(seen[0].t[0]).toBeCloseTo(0.25, 5);
    expect(seen[0].t[1]).toBeCloseTo(0.75, 5);
  });

  it('uses 0.5 T expm1(gamma_t - gamma_s) as the weight in discrete time, with t snapped to the grid', () => {
    const schedule = parseScheduleConfig({ kind: 'vdm-fixed-linear' });
    const T = 10;
    const x = tf.zeros([1, 1, 1, 1]);
    const before = tf.memory().numTensors;
    const terms = vdmTerms(
      constantModel(0),
      new Map(),
      gammaFn(schedule, new Map()),
      x,
      { t: Float32Array.from([0.33]), eps0: tf.zeros([1, 1, 1, 1]), eps: tf.ones([1, 1, 1, 1]) },
      { steps: T, vocabSize: 256 },
    );
    const gamma = (t: number) => -13.3 + 18.3 * t;
    expect(terms.diffusion.dataSync()[0]).toBeCloseTo(0.5 * T * Math.expm1(gamma(0.4) - gamma(0.3)), 3);
    tf.dispose([terms.recon, terms.latent, terms.diffusion]);
    expect(tf.memory().numTensors).toBe(before + 2); // only eps0 and eps, the caller's
  });

  it("learned gamma: gamma'(t) in closed form matches a central difference of gamma(t)", () => {
    const params = initLearnedGamma(3, -13.3, 5, 32);
    // Perturb so the network part is not negligible.
    const w2 = params.get('gamma.l2.w')!;
    params.set('gamma.l2.w', tf.mul(w2, 300));
    w2.dispose();
    const t = [0.05, 0.3, 0.5, 0.9];
    const h = 1e-3;
    const at = (v: number[]) => learnedGammaTensor(params, tf.tensor1d(v)).dataSync();
    const plus = at(t.map((v) => v + h));
    const minus = at(t.map((v) => v - h));
    const prime = learnedGammaPrimeTensor(params, tf.tensor1d(t)).dataSync();
    // float32 gamma ~ 10 differenced over 2e-3: ~1e-2 absolute on slopes of ~20.
    t.forEach((_, i) => expect(prime[i]).toBeCloseTo((plus[i] - minus[i]) / (2 * h), 1));
    tf.dispose([...params.values()]);
  });
});

describe('VDM helpers', () => {
  it('antithetic times are evenly spaced mod 1', () => {
    expect(Array.from(antitheticTimes(0.9, 4))).toEqual([0.9, 0.15, 0.4, 0.65].map((v) => Math.fround(v)));
  });

  it('bits per dimension divides nats by D ln 2', () => {
    expect(bitsPerDim(64 * Math.LN2 * 3, 64)).toBeCloseTo(3, 12);
  });
});
