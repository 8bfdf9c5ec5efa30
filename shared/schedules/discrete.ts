// Discrete DDPM beta schedules (Ho et al. 2020; Nichol and Dhariwal 2021).
import { checkSteps, type NoiseSchedule } from './types.ts';

export interface DiscreteSchedule extends NoiseSchedule {
  readonly T: number;
  /** beta_1..beta_T at index 0..T-1. */
  readonly betas: Float64Array;
  /** abar_0..abar_T at index 0..T, with abar_0 = 1 (no noise). */
  readonly alphasCumprod: Float64Array;
}

/** Linear betas from betaStart to betaEnd (DDPM §4: 1e-4 .. 0.02, T = 1000). */
export function linearBetas(T: number, betaStart: number, betaEnd: number): Float64Array {
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) betas[i] = T === 1 ? betaStart : betaStart + ((betaEnd - betaStart) * i) / (T - 1);
  return betas;
}

/**
 * Cosine schedule (improved DDPM eq. 17): abar(t) = f(t) / f(0),
 * f(t) = cos^2(((t/T + s) / (1 + s)) * pi/2); beta_t = 1 - abar_t / abar_{t-1},
 * clipped at 0.999 to avoid the singularity at t = T.
 */
export function cosineBetas(T: number, s: number): Float64Array {
  const f = (t: number) => Math.cos((((t / T + s) / (1 + s)) * Math.PI) / 2) ** 2;
  const betas = new Float64Array(T);
  for (let i = 1; i <= T; i++) betas[i - 1] = Math.min(1 - f(i) / f(i - 1), 0.999);
  return betas;
}

export function discreteSchedule(kind: string, betas: Float64Array): DiscreteSchedule {
  const T = betas.length;
  const alphasCumprod = new Float64Array(T + 1);
  alphasCumprod[0] = 1;
  for (let i = 1; i <= T; i++) alphasCumprod[i] = alphasCumprod[i - 1] * (1 - betas[i - 1]);

  // abar at continuous t: linear interpolation between the grid points i / T.
  const abar = (t: number): number => {
    const x = Math.min(Math.max(t, 0), 1) * T;
    const i = Math.min(Math.floor(x), T - 1);
    const w = x - i;
    return alphasCumprod[i] * (1 - w) + alphasCumprod[i + 1] * w;
  };

  return {
    kind,
    T,
    betas,
    alphasCumprod,
    gamma(t) {
      const a = abar(t);
      return Math.log((1 - a) / a); // -Infinity at t = 0
    },
    networkTime: (t) => t,
    grid(steps, spacing = 'time') {
      checkSteps(steps, T);
      // The network runs at `steps` distinct indices from T down to 1, then the
      // path ends at index 0 (no noise). Evaluating last at index 1 matters:
      // jumping to x0_hat from a coarse index returns the posterior mean, whose
      // variance is too small.
      const indices = spacing === 'time' ? timeIndices(T, steps) : logSnrIndices(alphasCumprod, steps);
      return [...indices, 0].map((i) => {
        const a = alphasCumprod[i];
        return { t: i / T, alpha: Math.sqrt(a), sigma: Math.sqrt(1 - a) };
      });
    },
  };
}

/** `steps` indices evenly spaced from T to 1 (distinct, since steps <= T). */
function timeIndices(T: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, k) => (steps === 1 ? T : Math.round(T - (k * (T - 1)) / (steps - 1))));
}

/** `steps` distinct indices from T to 1 whose lambda = log(alpha/sigma) is as evenly spaced as the grid allows. */
function logSnrIndices(alphasCumprod: Float64Array, steps: number): number[] {
  const T = alphasCumprod.length - 1;
  const lambda = (i: number) => 0.5 * Math.log(alphasCumprod[i] / (1 - alphasCumprod[i]));
  const lo = lambda(T);
  const hi = lambda(1);
  const out: number[] = [];
  let i = T;
  for (let k = 0; k < steps; k++) {
    const target = steps === 1 ? lo : lo + ((hi - lo) * k) / (steps - 1);
    while (i > 1 && Math.abs(lambda(i - 1) - target) <= Math.abs(lambda(i) - target)) i--; // lambda rises as i falls
    // Keep indices distinct, leaving room for the remaining steps.
    const prev = out.length ? out[out.length - 1] : T + 1;
    out.push(Math.max(Math.min(i, prev - 1), steps - k));
  }
  return out;
}
