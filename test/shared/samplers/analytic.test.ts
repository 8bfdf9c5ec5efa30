// Every sampler against the exact answer: for data x0 ~ N(mu, s^2) the
// optimal eps-predictor has the closed form
//   E[eps | x_t] = sigma_t (x_t - alpha_t mu) / (alpha_t^2 s^2 + sigma_t^2),
// so a correct sampler driven by it must return samples with mean mu and
// variance s^2, up to sampling error and the solver's discretisation error.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../shared/rng.ts';
import { createSampler, type Denoiser } from '../../../shared/samplers/index.ts';
import { toDenoised } from '../../../shared/schedules/prediction.ts';
import { createSchedule, type GridSpacing, type TimePoint } from '../../../shared/schedules/index.ts';
import { useBackend } from '../../backends.ts';

beforeAll(() => useBackend('cpu'));

const MU = 0.2;
const S = 0.3;
const N = 20_000;
// Sampling error at N = 20000: SE(mean) = s / sqrt(N) = 0.0021, SE(var) = s^2 sqrt(2/N) = 0.0009.
// Every tolerance below is 4 standard errors plus, for few-step solvers, a stated discretisation allowance.
const TOL_MEAN = 4 * (S / Math.sqrt(N));
const TOL_VAR = 4 * S ** 2 * Math.sqrt(2 / N);

const analytic: Denoiser = (x, tp) =>
  tf.tidy(() => toDenoised(tf.mul(tf.sub(x, tp.alpha * MU), tp.sigma / (tp.alpha ** 2 * S ** 2 + tp.sigma ** 2)), x, tp, 'eps', false));

async function run(samplerName: string, grid: TimePoint[], opts: { eta?: number; seed?: number } = {}) {
  const rng = new Rng(opts.seed ?? 1);
  const xT = tf.mul(tf.tensor1d(rng.normal(N)), grid[0].sigma);
  const out = await createSampler(samplerName, { eta: opts.eta }).sample({
    denoiser: analytic,
    grid,
    xT,
    noise: () => tf.tensor1d(rng.normal(N)),
  });
  const alpha0 = grid[grid.length - 1].alpha; // VDM ends at z_0 = alpha_0 x + sigma_0 eps
  const x = Float64Array.from(out.dataSync(), (v) => v / alpha0);
  tf.dispose([xT, out]);
  return x;
}

function moments(x: Float64Array) {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1);
  return { mean, variance };
}

const grid = (schedule: object, steps: number, spacing: GridSpacing = 'time') => createSchedule(schedule).grid(steps, spacing);

describe('ancestral samplers at full T', () => {
  it.each([
    ['ddpm', { kind: 'linear', T: 1000 }],
    ['ddpm', { kind: 'cosine', T: 300 }],
    ['vdm', { kind: 'vdm-fixed-linear' }],
  ] as const)('%s on %j matches N(mu, s^2)', async (name, schedule) => {
    const T = 'T' in schedule ? schedule.T : 1000;
    const { mean, variance } = moments(await run(name, grid(schedule, T)));
    expect(Math.abs(mean - MU)).toBeLessThan(TOL_MEAN);
    expect(Math.abs(variance - S ** 2)).toBeLessThan(TOL_VAR);
  });

  it('DDIM with eta = 1 on the full grid is DDPM, draw for draw', async () => {
    const g = grid({ kind: 'cosine', T: 100 }, 100);
    const a = await run('ddim', g, { eta: 1, seed: 5 });
    const b = await run('ddpm', g, { seed: 5 });
    a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 4));
  });
});

describe('DPM-Solver++(2M), log-SNR spacing', () => {
  // A second-order solver: its bias falls as 1/steps^2. Allowances are the
  // measured bias (10 steps: 4.9% of s^2; 20: 2.3%; 50: 0.6%) rounded up.
  it.each([
    [{ kind: 'cosine', T: 1000 }, 10, 0.06],
    [{ kind: 'linear', T: 1000 }, 10, 0.06],
    [{ kind: 'cosine', T: 1000 }, 20, 0.03],
    [{ kind: 'linear', T: 1000 }, 20, 0.03],
    [{ kind: 'cosine', T: 1000 }, 50, 0.01],
    [{ kind: 'vdm-fixed-linear' }, 20, 0.03],
  ] as const)('%j, %i steps, matches N(mu, s^2)', async (schedule, steps, allowance) => {
    const { mean, variance } = moments(await run('dpm-solver++', grid(schedule, steps, 'log-snr')));
    expect(Math.abs(mean - MU)).toBeLessThan(TOL_MEAN);
    expect(Math.abs(variance - S ** 2)).toBeLessThan(TOL_VAR + allowance * S ** 2);
  });
});

describe('DPM-Solver++(2M): the discretisation error of correct code, without sampling error', () => {
  // For Gaussian data the exact probability-flow map from x_T to x_0 is linear,
  //   x_0 - alpha_0 mu = c* (x_T - alpha_T mu),  c* = sqrt((alpha_0^2 s^2 + sigma_0^2) / (alpha_T^2 s^2 + sigma_T^2)),
  // and with the analytic denoiser the solver's map is linear too. Two starting points give its slope
  // exactly, so the error (slope / c* - 1) is a property of the solver and grid alone, measured once
  // with this implementation and stored. The margin (5e-4) is float32 rounding with room to spare; a
  // wrong multistep ratio moves the error by 1e-3 to 0.1 (r scaled by 1.25: linear 20 steps goes from
  // +1.45% to -1.70%), which the moment test above, bounded by its sampling error, cannot see.
  it.each([
    [{ kind: 'cosine', T: 1000 }, 10, 'log-snr', -0.022378],
    [{ kind: 'linear', T: 1000 }, 10, 'log-snr', 0.026164],
    [{ kind: 'cosine', T: 1000 }, 20, 'log-snr', 0.029117],
    [{ kind: 'linear', T: 1000 }, 20, 'log-snr', 0.014487],
    [{ kind: 'cosine', T: 1000 }, 50, 'log-snr', 0.005364],
    [{ kind: 'vdm-fixed-linear' }, 20, 'log-snr', 0.012039],
    // Uniform in time the steps in lambda differ, so r = h_prev / h varies from step to step.
    [{ kind: 'cosine', T: 1000 }, 20, 'time', 0.185259],
    [{ kind: 'linear', T: 1000 }, 20, 'time', 0.29661],
    [{ kind: 'cosine', T: 1000 }, 50, 'time', 0.039123],
  ] as const)('%j, %i steps, %s spacing: slope error %d', async (schedule, steps, spacing, expected) => {
    const g = grid(schedule, steps, spacing);
    const starts = [-g[0].sigma, g[0].sigma];
    const xT = tf.tensor1d(starts);
    const out = await createSampler('dpm-solver++').sample({ denoiser: analytic, grid: g, xT, noise: () => tf.zeros([2]) });
    const [a, b] = out.dataSync();
    tf.dispose([xT, out]);
    const [first, last] = [g[0], g[g.length - 1]];
    const exact = Math.sqrt((last.alpha ** 2 * S ** 2 + last.sigma ** 2) / (first.alpha ** 2 * S ** 2 + first.sigma ** 2));
    expect((b - a) / (starts[1] - starts[0]) / exact - 1).toBeCloseTo(expected, 3.3); // |diff| < 5e-4
  });
});

describe('DDIM (eta = 0)', () => {
  // For Gaussian data each deterministic DDIM step is linear:
  //   x_s - alpha_s mu = c (x_t - alpha_t mu),  c = (alpha_s alpha_t s^2 + sigma_s sigma_t) / (alpha_t^2 s^2 + sigma_t^2),
  // while the exact flow has c* = sqrt((alpha_s^2 s^2 + sigma_s^2) / (alpha_t^2 s^2 + sigma_t^2)).
  // By Cauchy-Schwarz c <= c*: DDIM shrinks the variance at every step, a first-order
  // bias that is part of the method. The samples must match this closed form exactly
  // (up to sampling error), and the bias must vanish as steps grow.
  function predictedVariance(g: TimePoint[]): number {
    let gain = 1;
    for (let k = 0; k + 1 < g.length; k++) {
      const [t, s] = [g[k], g[k + 1]];
      gain *= (s.alpha * t.alpha * S ** 2 + s.sigma * t.sigma) / (t.alpha ** 2 * S ** 2 + t.sigma ** 2);
    }
    return (gain * g[0].sigma) ** 2; // x_T = sigma_1 z, z ~ N(0, 1)
  }

  it.each([10, 25, 50])('%i steps: mean mu, variance equal to the closed form of its discretisation', async (steps) => {
    const g = grid({ kind: 'cosine', T: 1000 }, steps);
    const { mean, variance } = moments(await run('ddim', g));
    expect(Math.abs(mean - MU)).toBeLessThan(TOL_MEAN);
    expect(Math.abs(variance - predictedVariance(g))).toBeLessThan(TOL_VAR);
  });

  it('converges to N(mu, s^2) as steps grow', async () => {
    const deficit = (steps: number) => 1 - predictedVariance(grid({ kind: 'cosine', T: 1000 }, steps)) / S ** 2;
    expect(deficit(50)).toBeLessThan(deficit(25));
    expect(deficit(1000)).toBeLessThan(0.01);
    const { variance } = moments(await run('ddim', grid({ kind: 'cosine', T: 1000 }, 1000)));
    expect(Math.abs(variance - S ** 2)).toBeLessThan(TOL_VAR + 0.01 * S ** 2);
  });
});
