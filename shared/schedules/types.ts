// One interface for every noise schedule, discrete (DDPM) or continuous (VDM).
//
// Time t runs from 0 (data) to 1 (noise). Everything derives from
// gamma(t) = -log SNR(t) = log(sigma_t^2 / alpha_t^2), with the variance-
// preserving constraint alpha_t^2 + sigma_t^2 = 1 (VDM eq. 3-4; for DDPM,
// alpha_t^2 = abar_t).
import { ConfigError } from '../config.ts';

/** The largest continuous-time grid a sampler may ask for. */
export const MAX_CONTINUOUS_STEPS = 100_000;

/** A point on the sampling grid: time and its signal/noise scales. */
export interface TimePoint {
  /** Time in [0, 1]. */
  t: number;
  alpha: number;
  sigma: number;
}

export type GridSpacing = 'time' | 'log-snr';

export interface NoiseSchedule {
  readonly kind: string;
  /** gamma(t) = -log SNR(t); -Infinity where there is no noise (discrete t = 0). */
  gamma(t: number): number;
  /** The time input the denoising network receives at time t, in [0, 1]. */
  networkTime(t: number): number;
  /**
   * steps + 1 points from t = 1 down to t = 0 (the sampler's path), evenly
   * spaced in time or in log-SNR (better for few-step solvers, Lu et al. 2022 §5).
   */
  grid(steps: number, spacing?: GridSpacing): TimePoint[];
}

/** Sigmoid for float64 scalars: exp(-x) may overflow to Infinity, giving exactly 0, never NaN. */
export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** alpha_t = sqrt(sigmoid(-gamma)). */
export function alphaAt(s: NoiseSchedule, t: number): number {
  return Math.sqrt(sigmoid(-s.gamma(t)));
}

/** sigma_t = sqrt(sigmoid(gamma)). */
export function sigmaAt(s: NoiseSchedule, t: number): number {
  return Math.sqrt(sigmoid(s.gamma(t)));
}

/** log SNR(t) = -gamma(t). */
export function logSnrAt(s: NoiseSchedule, t: number): number {
  return -s.gamma(t);
}

export function timePoint(s: NoiseSchedule, t: number): TimePoint {
  return { t, alpha: alphaAt(s, t), sigma: sigmaAt(s, t) };
}

export function checkSteps(steps: number, max: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > max) {
    throw new ConfigError('steps', `must be an integer in [1, ${max}], got ${steps}`);
  }
}
