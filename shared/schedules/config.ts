// Schedule configs (the manifest's `schedule`), without tfjs: the request
// plan checks steps against a schedule without building it.
import { z } from 'zod';
import { parseConfig } from '../config.ts';
import { MAX_CONTINUOUS_STEPS } from './types.ts';

const T = z.number().int().min(1).max(10_000).default(1000);
const gammaMin = z.number().finite().default(-13.3);
const gammaMax = z.number().finite().default(5.0);

export const ScheduleConfigSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('linear'),
    T,
    betaStart: z.number().gt(0).lt(1).default(1e-4),
    betaEnd: z.number().gt(0).lt(1).default(0.02),
  }),
  z.object({ kind: z.literal('cosine'), T, s: z.number().min(0).max(1).default(0.008) }),
  z.object({ kind: z.literal('vdm-fixed-linear'), gammaMin, gammaMax }),
  z.object({ kind: z.literal('vdm-learned'), gammaMin, gammaMax, features: z.number().int().min(1).max(4096).default(1024) }),
]);
export type ScheduleConfig = z.infer<typeof ScheduleConfigSchema>;

export type ContinuousScheduleConfig = Extract<ScheduleConfig, { kind: 'vdm-fixed-linear' | 'vdm-learned' }>;

/** A VDM schedule (continuous t, gamma bounds) rather than a discrete DDPM one (T timesteps). */
export function isContinuousSchedule(c: ScheduleConfig): c is ContinuousScheduleConfig {
  return c.kind === 'vdm-fixed-linear' || c.kind === 'vdm-learned';
}

export function parseScheduleConfig(raw: unknown): ScheduleConfig {
  const c = parseConfig(ScheduleConfigSchema, raw, 'schedule');
  if (c.kind === 'linear' && c.betaEnd < c.betaStart) throw new Error('schedule.betaEnd: must be >= betaStart');
  if (isContinuousSchedule(c) && c.gammaMax <= c.gammaMin) {
    throw new Error('schedule.gammaMax: must be greater than gammaMin');
  }
  return c;
}

/** The most sampler steps a schedule takes: T for a discrete one (a step per timestep), else the continuous cap. */
export function stepLimit(c: ScheduleConfig): number {
  return c.kind === 'linear' || c.kind === 'cosine' ? c.T : MAX_CONTINUOUS_STEPS;
}
