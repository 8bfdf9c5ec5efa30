// The objective a diffusion run trains, chosen by its schedule: a discrete
// (DDPM) schedule trains Algorithm 1's regression, a continuous VDM schedule
// the variational bound (in the latent of its own autoencoder for a
// latent-vdm). The one place that tells the two apart.
import { ConfigError } from '../../shared/config.ts';
import { LATENT_VDM_KIND, type LatentVdm } from '../../shared/models/latent-vdm.ts';
import type { Model } from '../../shared/models/types.ts';
import type { Prediction } from '../../shared/samplers/index.ts';
import { createSchedule, isContinuousSchedule, type DiscreteSchedule, type ScheduleConfig } from '../../shared/schedules/index.ts';
import type { TrainConfig } from '../config.ts';
import { ddpmObjective } from './ddpm.ts';
import type { Objective } from './objective.ts';
import { latentVdmObjective } from './latent-vdm.ts';
import { vdmObjective } from './vdm.ts';

export type { Objective } from './objective.ts';

/** The objective for `kind`'s network under `schedule`; throws when the two do not belong together. */
export function objectiveFor(kind: string, model: Model<unknown>, schedule: ScheduleConfig, config: TrainConfig): Objective {
  const vdmKind = kind === 'vdm' || kind === LATENT_VDM_KIND;
  if (isContinuousSchedule(schedule) !== vdmKind) throw new Error(`schedule.kind ${schedule.kind} does not suit a ${kind} model`);
  if (isContinuousSchedule(schedule)) {
    // The VDM bound weights its steps by gamma'(t) (eq. 17); a second weighting would no longer bound anything.
    if (config.minSnrGamma > 0) throw new ConfigError('train.minSnrGamma', 'applies to DDPM runs; a VDM trains on its variational bound');
    const opts = { steps: config.vdmSteps, vocabSize: config.vocabSize };
    return kind === LATENT_VDM_KIND ? latentVdmObjective(model as LatentVdm, schedule, opts) : vdmObjective(model, schedule, opts);
  }
  const prediction = ((model.config as { prediction?: Prediction }).prediction ?? 'eps') as Prediction;
  return ddpmObjective(model, createSchedule(schedule) as DiscreteSchedule, { loss: config.loss, prediction, minSnrGamma: config.minSnrGamma });
}
