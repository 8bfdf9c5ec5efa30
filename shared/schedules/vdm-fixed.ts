// VDM fixed linear schedule (Kingma et al. 2021, §3 / google-research/vdm
// NoiseSchedule_FixedLinear): gamma(t) = gamma_min + (gamma_max - gamma_min) t.
import * as tf from '@tensorflow/tfjs-core';
import { checkSteps, MAX_CONTINUOUS_STEPS, type NoiseSchedule, timePoint } from './types.ts';

/** Shared by both VDM schedules: network time is gamma normalised to [0, 1] (vdm ScoreUNet). */
export function continuousSchedule(
  kind: string,
  gamma: (t: number) => number,
  gammaMin: number,
  gammaMax: number,
): NoiseSchedule {
  const schedule: NoiseSchedule = {
    kind,
    gamma,
    networkTime: (t) => (gamma(t) - gammaMin) / (gammaMax - gammaMin),
    grid(steps, spacing = 'time') {
      checkSteps(steps, MAX_CONTINUOUS_STEPS);
      const g0 = gamma(0);
      const g1 = gamma(1);
      return Array.from({ length: steps + 1 }, (_, k) => {
        const u = (steps - k) / steps;
        return timePoint(schedule, spacing === 'time' || k === 0 || k === steps ? u : invert(gamma, g0 + (g1 - g0) * u));
      });
    },
  };
  return schedule;
}

/** The same gamma as a tensor function of t [B] (training differentiates through it). */
export function fixedLinearGammaTensor(t: tf.Tensor1D, gammaMin: number, gammaMax: number): tf.Tensor1D {
  return tf.tidy(() => tf.add(tf.mul(t, gammaMax - gammaMin), gammaMin) as tf.Tensor1D);
}

export function vdmFixedLinear(gammaMin: number, gammaMax: number): NoiseSchedule {
  return continuousSchedule('vdm-fixed-linear', (t) => gammaMin + (gammaMax - gammaMin) * t, gammaMin, gammaMax);
}

/** t in [0, 1] with gamma(t) = g, by bisection (gamma is non-decreasing). */
function invert(gamma: (t: number) => number, g: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (gamma(mid) < g) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
