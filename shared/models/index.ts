// Models by checkpoint kind (DESIGN §4), with their configs validated in one place.
import { latentDdpm } from './latent-ddpm.ts';
import { latentVdm } from './latent-vdm.ts';
import type { Model } from './types.ts';
import { unet2d } from './unet2d.ts';
import { unet3d } from './unet3d.ts';
import { vdmScore } from './vdm-score.ts';

const MODELS: Record<string, (config: unknown) => Model<unknown>> = {
  'ddpm-unet2d': unet2d,
  'ddpm-unet3d': unet3d,
  vdm: vdmScore,
  'latent-ddpm-vqgan3d': latentDdpm,
  'latent-vdm': latentVdm,
};

export const MODEL_KINDS = Object.keys(MODELS);

/** The network for a checkpoint kind; throws naming the known kinds, or the bad config field. */
export function createModel(kind: string, config: unknown = {}): Model<unknown> {
  const make = Object.hasOwn(MODELS, kind) ? MODELS[kind] : undefined;
  if (!make) throw new Error(`unknown model kind "${kind}"; known kinds: ${MODEL_KINDS.join(', ')}`);
  return make(config);
}

export type { Conditioning, Model, Params, ParamSpec } from './types.ts';
export { unet2d, type UNet2DConfig } from './unet2d.ts';
export { unet3d, type UNet3DConfig } from './unet3d.ts';
export { vdmScore, type VdmScoreConfig } from './vdm-score.ts';
export { latentDdpm, LATENT_DDPM_KIND, type LatentDdpmConfig, type LatentScale, type LatentSpec } from './latent-ddpm.ts';
export { latentVdm, LATENT_VDM_KIND, type LatentVdm, type LatentVdmConfig } from './latent-vdm.ts';
