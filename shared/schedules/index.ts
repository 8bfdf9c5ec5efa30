// Schedules by name, with their config validated in one place.
import type { Params } from '../models/types.ts';
import { cosineBetas, discreteSchedule, linearBetas } from './discrete.ts';
import { vdmFixedLinear } from './vdm-fixed.ts';
import type { NoiseSchedule } from './types.ts';
import { parseScheduleConfig, type ScheduleConfig } from './config.ts';
import { initLearnedGamma, vdmLearned } from './vdm-learned.ts';

/** A schedule's own trainable weights at initialisation: the learned gamma network's (gamma.*), none for the others. */
export function initScheduleParams(c: ScheduleConfig, seed: number): Params {
  return c.kind === 'vdm-learned' ? initLearnedGamma(seed, c.gammaMin, c.gammaMax, c.features) : new Map();
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
export { ScheduleConfigSchema, isContinuousSchedule, parseScheduleConfig, stepLimit, type ScheduleConfig } from './config.ts';
export type { DiscreteSchedule } from './discrete.ts';
export { initLearnedGamma, learnedGammaPrimeTensor, learnedGammaTensor, GAMMA_PREFIX } from './vdm-learned.ts';
