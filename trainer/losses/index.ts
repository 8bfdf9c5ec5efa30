// The objective a diffusion run trains, chosen by its schedule: a discrete
// (DDPM) schedule trains Algorithm 1's regression, a continuous VDM schedule
// the variational bound. The one place that tells the two apart.
import { ConfigError } from '../../shared/config.ts';
import type { Model } from '../../shared/models/types.ts';
import type { Prediction } from '../../shared/samplers/index.ts';
import { createSchedule, isContinuousSchedule, type DiscreteSchedule, type ScheduleConfig } from '../../shared/schedules/index.ts';
import type { TrainConfig } from '../config.ts';
import { ddpmObjective } from './ddpm.ts';
import type { Objective } from './objective.ts';
import { vdmObjective } from './vdm.ts';

export type { Objective } from './objective.ts';

/** The objective for `kind`'s network under `schedule`; throws when the two do not belong together. */
export function objectiveFor(kind: string, model: Model<unknown>, schedule: ScheduleConfig, config: TrainConfig): Objective {
  if (isContinuousSchedule(schedule) !== (kind === 'vdm')) throw new Error(`schedule.kind ${schedule.kind} does not suit a ${kind} model`);
  if (isContinuousSchedule(schedule)) {
    // The VDM bound weights its steps by gamma'(t) (eq. 17); a second weighting would no longer bound anything.
    if (config.minSnrGamma > 0) throw new ConfigError('train.minSnrGamma', 'applies to DDPM runs; a VDM trains on its variational bound');
    return vdmObjective(model, schedule, { steps: config.vdmSteps, vocabSize: config.vocabSize });
  }
  const prediction = ((model.config as { prediction?: Prediction }).prediction ?? 'eps') as Prediction;
  return ddpmObjective(model, createSchedule(schedule) as DiscreteSchedule, { loss: config.loss, prediction, minSnrGamma: config.minSnrGamma });
}
