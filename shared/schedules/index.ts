// Schedules by name, with their config validated in one place.
import { z } from 'zod';
import { parseConfig } from '../config.ts';
import type { Params } from '../models/types.ts';
import { cosineBetas, discreteSchedule, linearBetas } from './discrete.ts';
import { vdmFixedLinear } from './vdm-fixed.ts';
import { vdmLearned } from './vdm-learned.ts';
import type { NoiseSchedule } from './types.ts';

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

export function parseScheduleConfig(raw: unknown): ScheduleConfig {
  const c = parseConfig(ScheduleConfigSchema, raw, 'schedule');
  if (c.kind === 'linear' && c.betaEnd < c.betaStart) throw new Error('schedule.betaEnd: must be >= betaStart');
  if ((c.kind === 'vdm-fixed-linear' || c.kind === 'vdm-learned') && c.gammaMax <= c.gammaMin) {
    throw new Error('schedule.gammaMax: must be greater than gammaMin');
  }
  return c;
}

/** Builds a schedule; `params` holds the gamma.* weights of a learned schedule. */
export function createSchedule(raw: unknown, params?: Params): NoiseSchedule {
  const c = parseScheduleConfig(raw);
  switch (c.kind) {
    case 'linear':
      return discreteSchedule('linear', linearBetas(c.T, c.betaStart, c.betaEnd));
    case 'cosine':
      return discreteSchedule('cosine', cosineBetas(c.T, c.s));
    case 'vdm-fixed-linear':
      return vdmFixedLinear(c.gammaMin, c.gammaMax);
    case 'vdm-learned':
      if (!params) throw new Error('schedule vdm-learned needs its gamma.* parameters');
      return vdmLearned(params, c.gammaMin, c.gammaMax);
  }
}

export * from './types.ts';
export type { DiscreteSchedule } from './discrete.ts';
export { initLearnedGamma, learnedGammaPrimeTensor, learnedGammaTensor, GAMMA_PREFIX } from './vdm-learned.ts';
