// Discrete DDPM beta schedules (Ho et al. 2020; Nichol and Dhariwal 2021).
import { checkSteps, type NoiseSchedule, type TimePoint } from './types.ts';

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
    grid(steps) {
      checkSteps(steps, T);
      // Evenly spaced integer indices T = i_0 > ... > i_steps = 0 (distinct since steps <= T).
      const points: TimePoint[] = [];
      for (let k = 0; k <= steps; k++) {
        const i = Math.round(T - (k * T) / steps);
        const a = alphasCumprod[i];
        points.push({ t: i / T, alpha: Math.sqrt(a), sigma: Math.sqrt(1 - a) });
      }
      return points;
    },
  };
}
