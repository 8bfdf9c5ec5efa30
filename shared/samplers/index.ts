// Samplers by name (their settings are validated by the request plan, shared/request-plan.ts).
import { ddpm } from './ddpm.ts';
import { createDdim } from './ddim.ts';
import { dpmSolverPP2M } from './dpm-solver.ts';
import type { Sampler } from './types.ts';
import { SAMPLER_NAMES } from './names.ts';
import { vdmAncestral } from './vdm.ts';

export { SAMPLER_NAMES, type SamplerName } from './names.ts';

export function createSampler(name: string, opts: { eta?: number } = {}): Sampler {
  switch (name) {
    case 'ddpm':
      return ddpm;
    case 'ddim':
      return createDdim(opts.eta ?? 0);
    case 'dpm-solver++':
      return dpmSolverPP2M;
    case 'vdm':
      return vdmAncestral;
    default:
      throw new Error(`unknown sampler "${name}"; known samplers: ${SAMPLER_NAMES.join(', ')}`);
  }
}

export type { Denoised, Denoiser, SampleRequest, Sampler } from './types.ts';
export { makeDenoiser, type Net, type DenoiserOptions } from './denoiser.ts';
export { PREDICTIONS, type Prediction } from '../schedules/prediction.ts';
