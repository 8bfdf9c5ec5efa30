// VQ-GAN training settings: one typed config with defaults (Medical Diffusion's
// where they fit a CPU/wasm budget) and validation in one place.
import { z } from 'zod';
import { parseConfig } from '../../shared/config.ts';
import { Vqgan3dConfigSchema } from '../../shared/models/vqgan3d/index.ts';
import { patchGanWidth } from './discriminator.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const weight = (d: number) => z.number().min(0).max(1e6).default(d);

export const VqganTrainConfigSchema = z
  .strictObject({
    /** The autoencoder (shared/models/vqgan3d). */
    model: Vqgan3dConfigSchema.prefault({}),
    /** Training volumes [D, H, W]; each axis a multiple of model.downsample. */
    shape: z.tuple([int(1, 1024), int(1, 1024), int(1, 1024)]).default([32, 32, 32]),
    modality: z.enum(['mri', 'ct']).default('mri'),
    /** Adam (Kingma and Ba 2015) with betas (0.5, 0.9), no weight decay, for both networks (TATS). */
    lr: z.number().gt(0).max(1).default(3e-4),
    beta1: z.number().min(0).lt(1).default(0.5),
    beta2: z.number().min(0).lt(1).default(0.9),
    adamEps: z.number().gt(0).default(1e-8),
    /** Global gradient-norm clip per network (Medical Diffusion trains with 1.0); 0 = off. */
    clipNorm: z.number().min(0).default(1),
    l1Weight: weight(4),
    /** beta of the commitment term beta * MSE(z, sg(zq)). */
    commitmentWeight: weight(0.25),
    codebookDecay: z.number().gt(0).lt(1).default(0.99),
    laplaceEps: z.number().gt(0).max(1).default(1e-7),
    /** Restart codes whose EMA cluster size is below this (TATS 1.0); 0 = never. */
    restartThreshold: z.number().min(0).default(1),
    /** GAN terms (adversarial, feature matching) and discriminator updates start at this step (Medical Diffusion 10000). */
    discStart: int(0, 1e9).default(10_000),
    discChannels: int(1, 512).default(16),
    discLayers: int(1, 6).default(3),
    discGroups: int(1, 512).default(8),
    /** Weights of the 2D (slice) and 3D (volume) PatchGANs. */
    imageGanWeight: weight(1),
    volumeGanWeight: weight(1),
    featureMatchingWeight: weight(4),
    /** Used only when a PerceptualLoss is passed in the options (Medical Diffusion: 4 with LPIPS). */
    perceptualWeight: weight(4),
  })
  .superRefine((c, ctx) => {
    c.shape.forEach((s, i) => {
      if (s % c.model.downsample[i] !== 0) ctx.addIssue({ code: 'custom', path: ['shape', i], message: `${s} is not a multiple of model.downsample[${i}] = ${c.model.downsample[i]}` });
    });
    for (let l = 1; l <= c.discLayers; l++) {
      const w = patchGanWidth({ channels: c.discChannels, layers: c.discLayers, groups: c.discGroups }, l);
      if (w % c.discGroups !== 0) {
        ctx.addIssue({ code: 'custom', path: ['discGroups'], message: `${c.discGroups} must divide the discriminator width ${w} of layer ${l}` });
        break;
      }
    }
  });
export type VqganTrainConfig = z.infer<typeof VqganTrainConfigSchema>;

export function parseVqganTrainConfig(raw: unknown): VqganTrainConfig {
  return parseConfig(VqganTrainConfigSchema, raw, 'vqgan');
}
