import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  alphaAt,
  createSchedule,
  initLearnedGamma,
  learnedGammaTensor,
  logSnrAt,
  sigmaAt,
  sigmoid,
  type DiscreteSchedule,
  type NoiseSchedule,
} from '../../../shared/schedules/index.ts';
import { useBackend } from '../../backends.ts';

beforeAll(() => useBackend('cpu'));

const ts = Array.from({ length: 1001 }, (_, i) => i / 1000);

function expectMonotoneGamma(s: NoiseSchedule): void {
  for (let i = 1; i < ts.length; i++) expect(s.gamma(ts[i])).toBeGreaterThanOrEqual(s.gamma(ts[i - 1]));
}

function expectVariancePreserving(s: NoiseSchedule): void {
  for (const t of ts.slice(1)) expect(alphaAt(s, t) ** 2 + sigmaAt(s, t) ** 2).toBeCloseTo(1, 12);
}

describe('discrete schedules', () => {
  it('linear: betas from 1e-4 to 0.02 and the DDPM value of abar_T', () => {
    const s = createSchedule({ kind: 'linear' }) as DiscreteSchedule;
    expect(s.T).toBe(1000);
    expect(s.betas[0]).toBeCloseTo(1e-4, 15);
    expect(s.betas[999]).toBeCloseTo(0.02, 15);
    expect(s.betas[500] - s.betas[499]).toBeCloseTo((0.02 - 1e-4) / 999, 15);
    // abar_T = prod(1 - beta_i): the well-known 4.036e-5 of DDPM's schedule (sqrt = 0.00635).
    expect(s.alphasCumprod[1000]).toBeCloseTo(4.0358e-5, 8);
    expect(s.alphasCumprod[0]).toBe(1);
  });

  it('cosine: abar_t = f(t)/f(0) with s = 0.008 away from the clipped end', () => {
    const T = 300; // Medical Diffusion's setting
    const s = createSchedule({ kind: 'cosine', T }) as DiscreteSchedule;
    const f = (t: number) => Math.cos((((t / T + 0.008) / 1.008) * Math.PI) / 2) ** 2;
    for (const i of [1, 10, 100, 200, 290]) expect(s.alphasCumprod[i]).toBeCloseTo(f(i) / f(0), 12);
    expect(Math.max(...s.betas)).toBeLessThanOrEqual(0.999);
    expect(s.alphasCumprod[T]).toBeLessThan(1e-4);
  });

  it.each(['linear', 'cosine'])('%s: monotone, variance preserving, endpoints, grid', (kind) => {
    const s = createSchedule({ kind, T: 1000 }) as DiscreteSchedule;
    expectMonotoneGamma(s);
    expectVariancePreserving(s);
    expect(s.gamma(0)).toBe(-Infinity);
    expect(alphaAt(s, 0)).toBe(1);
    expect(sigmaAt(s, 0)).toBe(0);
    // At grid points the interface reproduces abar exactly; logSNR = log(abar / (1 - abar)).
    expect(logSnrAt(s, 0.25)).toBeCloseTo(Math.log(s.alphasCumprod[250] / (1 - s.alphasCumprod[250])), 10);
    const g = s.grid(10);
    expect(g).toHaveLength(11);
    expect(g[0].t).toBe(1);
    expect(g[10]).toEqual({ t: 0, alpha: 1, sigma: 0 });
    expect(g.map((p) => Math.round(p.t * 1000))).toEqual([1000, 889, 778, 667, 556, 445, 334, 223, 112, 1, 0]);
    const full = s.grid(1000);
    expect(new Set(full.map((p) => p.t)).size).toBe(1001);
    expect(() => s.grid(1001)).toThrow(/steps: must be an integer in \[1, 1000\]/);
  });
});

describe('VDM schedules', () => {
  it('fixed linear: gamma endpoints -13.3 and 5, SNR = exp(-gamma), network time in [0, 1]', () => {
    const s = createSchedule({ kind: 'vdm-fixed-linear' });
    expect(s.gamma(0)).toBeCloseTo(-13.3, 12);
    expect(s.gamma(1)).toBeCloseTo(5.0, 12);
    expect(s.gamma(0.5)).toBeCloseTo((-13.3 + 5) / 2, 12);
    const snr = (alphaAt(s, 0.3) / sigmaAt(s, 0.3)) ** 2;
    expect(snr).toBeCloseTo(Math.exp(-s.gamma(0.3)), 8);
    expect(alphaAt(s, 1) ** 2).toBeCloseTo(1 / (1 + Math.exp(5)), 12);
    expect(s.networkTime(0)).toBeCloseTo(0, 12);
    expect(s.networkTime(1)).toBeCloseTo(1, 12);
    expectMonotoneGamma(s);
    expectVariancePreserving(s);
    const g = s.grid(4);
    expect(g.map((p) => p.t)).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect(g[4].sigma).toBeGreaterThan(0); // VDM keeps sigma_0 > 0; the decoder handles z_0
  });

  it('learned: starts at the fixed linear schedule, JS and tensor forms agree', () => {
    const params = initLearnedGamma(0, -13.3, 5, 1024);
    const s = createSchedule({ kind: 'vdm-learned' }, params);
    // Init: l1 gives the linear schedule; the l3 term adds at most mean|w3| ~ 0.008.
    for (const t of [0, 0.5, 1]) expect(Math.abs(s.gamma(t) - (-13.3 + 18.3 * t))).toBeLessThan(0.02);
    const before = tf.memory().numTensors;
    const tt = tf.tensor1d([0, 0.1, 0.5, 0.9, 1]);
    const gt = learnedGammaTensor(params, tt);
    const expected = [0, 0.1, 0.5, 0.9, 1].map((t) => s.gamma(t));
    const got = Array.from(gt.dataSync());
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
    tf.dispose([tt, gt]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...params.values()]);
  });

  it('learned: monotone for arbitrary (even negative, large) weights', () => {
    const params = initLearnedGamma(3, -13.3, 5, 64);
    const scramble = (name: string, scale: number) => {
      const p = params.get(name)!;
      params.set(name, tf.mul(tf.randomNormal(p.shape, 0, 1, 'float32', 7), scale));
      p.dispose();
    };
    scramble('gamma.l1.w', 5);
    scramble('gamma.l2.w', 30);
    scramble('gamma.l2.b', 10);
    scramble('gamma.l3.w', 50);
    const s = createSchedule({ kind: 'vdm-learned', features: 64 }, params);
    expectMonotoneGamma(s);
    expectVariancePreserving(s);
    // With weights this large every term of the network matters: the float64 JS form (sampling)
    // and the float32 tensor form (training) agree to float32 rounding of gamma (|gamma| up to ~1e3).
    const tt = tf.tensor1d([0, 0.13, 0.5, 0.77, 1]);
    const gt = learnedGammaTensor(params, tt);
    Array.from(gt.dataSync()).forEach((v, i) => expect(Math.abs(v - s.gamma([0, 0.13, 0.5, 0.77, 1][i]))).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
    tf.dispose([tt, gt, ...params.values()]);
  });

  it('learned: refuses l2/l3 weights of different sizes, naming them', () => {
    const params = initLearnedGamma(0, -13.3, 5, 8);
    params.get('gamma.l3.w')!.dispose();
    params.set('gamma.l3.w', tf.zeros([4, 1]));
    expect(() => createSchedule({ kind: 'vdm-learned', features: 8 }, params)).toThrow('learned gamma schedule: l2/l3 sizes disagree (8, 8, 4)');
    tf.dispose([...params.values()]);
  });
});

describe('schedule config', () => {
  it('rejects bad configs naming the field', () => {
    expect(() => createSchedule({ kind: 'quadratic' })).toThrow(/schedule\.kind/);
    expect(() => createSchedule({ kind: 'linear', T: 0 })).toThrow(/schedule\.T/);
    expect(() => createSchedule({ kind: 'vdm-fixed-linear', gammaMin: 5, gammaMax: -1 })).toThrow(/gammaMax/);
    expect(() => createSchedule({ kind: 'vdm-learned' })).toThrow(/gamma\.\* parameters/);
  });

  it('takes each bound at its edge and refuses one past it', () => {
    expect(() => createSchedule({ kind: 'linear', T: 10, betaStart: 0.01, betaEnd: 0.001 })).toThrow('schedule.betaEnd: must be >= betaStart');
    expect((createSchedule({ kind: 'linear', T: 10, betaStart: 0.01, betaEnd: 0.01 }) as DiscreteSchedule).betas.every((b) => b === 0.01)).toBe(true);
    expect(() => createSchedule({ kind: 'vdm-fixed-linear', gammaMin: 2, gammaMax: 2 })).toThrow('schedule.gammaMax: must be greater than gammaMin');
    expect(createSchedule({ kind: 'cosine', T: 10, s: 1 }).kind).toBe('cosine');
    expect(() => createSchedule({ kind: 'cosine', T: 10, s: 1.01 })).toThrow(/schedule\.s/);
    expect(() => createSchedule({ kind: 'cosine', T: 10, s: -0.01 })).toThrow(/schedule\.s/);
  });

  it("names each schedule's kind", () => {
    expect(createSchedule({ kind: 'linear', T: 10 }).kind).toBe('linear');
    expect(createSchedule({ kind: 'cosine', T: 10 }).kind).toBe('cosine');
    expect(createSchedule({ kind: 'vdm-fixed-linear' }).kind).toBe('vdm-fixed-linear');
    const params = initLearnedGamma(0, -13.3, 5, 8);
    expect(createSchedule({ kind: 'vdm-learned', features: 8 }, params).kind).toBe('vdm-learned');
    tf.dispose([...params.values()]);
  });
});

describe('schedule helpers', () => {
  it('sigmoid is exact at 0 and finite far out on both sides', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(800)).toBe(1);
    expect(sigmoid(-800)).toBe(0); // e^800 overflows to Infinity: 1 / Infinity, not NaN
    expect(sigmoid(-30)).toBeCloseTo(Math.exp(-30), 25);
    expect(sigmoid(30)).toBeCloseTo(1 - Math.exp(-30), 15);
  });

  it('grids take 1 to T steps and refuse 0, fractions and T + 1, naming steps', () => {
    const s = createSchedule({ kind: 'cosine', T: 20 });
    expect(s.grid(1)).toHaveLength(2);
    expect(s.grid(20)).toHaveLength(21);
    for (const bad of [0, 1.5, 21]) expect(() => s.grid(bad)).toThrow(`steps: must be an integer in [1, 20], got ${bad}`);
  });

  it('linear betas: T = 1 is betaStart alone; the ends are betaStart and betaEnd', () => {
    expect(Array.from((createSchedule({ kind: 'linear', T: 1, betaStart: 0.003, betaEnd: 0.02 }) as DiscreteSchedule).betas)).toEqual([0.003]);
    const b = (createSchedule({ kind: 'linear', T: 5, betaStart: 0.001, betaEnd: 0.005 }) as DiscreteSchedule).betas;
    expect(b).toHaveLength(5);
    expect([b[0], b[4]]).toEqual([0.001, 0.005]);
    expect(b[2]).toBeCloseTo(0.003, 15);
  });
});
