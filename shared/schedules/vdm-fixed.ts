// VDM fixed linear schedule (Kingma et al. 2021, §3 / google-research/vdm
// NoiseSchedule_FixedLinear): gamma(t) = gamma_min + (gamma_max - gamma_min) t.
import { checkSteps, type NoiseSchedule, timePoint } from './types.ts';

/** The largest continuous-time grid a sampler may ask for. */
export const MAX_CONTINUOUS_STEPS = 100_000;

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
    grid(steps) {
      checkSteps(steps, MAX_CONTINUOUS_STEPS);
      return Array.from({ length: steps + 1 }, (_, k) => timePoint(schedule, (steps - k) / steps));
    },
  };
  return schedule;
}

export function vdmFixedLinear(gammaMin: number, gammaMax: number): NoiseSchedule {
  return continuousSchedule('vdm-fixed-linear', (t) => gammaMin + (gammaMax - gammaMin) * t, gammaMin, gammaMax);
}
