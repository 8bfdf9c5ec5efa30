// Training settings: one typed config with defaults and validation in one place.
import { z } from 'zod';
import { parseConfig } from '../shared/config.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const TrainConfigSchema = z.strictObject({
  steps: int(1, 10_000_000).default(2000),
  /** Examples per optimiser step = batchSize * accumulate. */
  batchSize: int(1, 1024).default(8),
  accumulate: int(1, 256).default(1),
  lr: z.number().gt(0).max(1).default(2e-4),
  warmup: int(0, 1_000_000).default(100),
  minLrFraction: z.number().min(0).max(1).default(0.1),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  adamEps: z.number().gt(0).default(1e-8),
  weightDecay: z.number().min(0).default(0),
  clipNorm: z.number().min(0).default(1),
  emaDecay: z.number().min(0).lt(1).default(0.999),
  /** DDPM: loss on the prediction (Medical Diffusion uses L1). */
  loss: z.enum(['l1', 'l2']).default('l1'),
  /** DDPM: Min-SNR-gamma loss weighting (Hang et al. 2023; they use 5); 0 = off (every step weighs alike). */
  minSnrGamma: z.number().min(0).max(1000).default(0),
  /** DDPM: probability of dropping the label to the null label (classifier-free guidance). */
  pUncond: z.number().min(0).max(1).default(0.1),
  /** VDM: 0 = continuous-time diffusion loss, T > 0 = discrete with T steps. */
  vdmSteps: int(0, 100_000).default(0),
  /** VDM: levels of the data grid for the reconstruction term (256 for 8-bit data). */
  vocabSize: int(2, 65_536).default(256),
  seed: int(0, 2 ** 31 - 1).default(0),
  /** Axes of [D, H, W] to flip at random (p = 0.5 each) in training batches; 'W' is left-right. */
  flip: z.array(z.enum(['D', 'H', 'W'])).max(3).default([]),
  /** Small random affine transforms and brightness gain in training batches (preprocess/affine.ts); absent = none. */
  affine: z
    .strictObject({
      /** Largest |rotation|, degrees. */
      rotate: z.number().min(0).max(45).default(0),
      /** Largest |scale - 1|. */
      scale: z.number().min(0).max(0.5).default(0),
      /** Largest |shift|, fraction of the image size. */
      shift: z.number().min(0).max(0.5).default(0),
      /** Largest |gain - 1| on brightness above black. */
      gain: z.number().min(0).max(0.5).default(0),
    })
    .optional(),
  /** Every N steps: write the training checkpoint, evaluate held-out data, write a preview, log. 0 = never. */
  checkpointEvery: int(0, 10_000_000).default(200),
  validateEvery: int(0, 10_000_000).default(200),
  previewEvery: int(0, 10_000_000).default(0),
  logEvery: int(1, 10_000_000).default(10),
  /** Held-out batches per validation. */
  validationBatches: int(1, 10_000).default(4),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

export function parseTrainConfig(raw: unknown): TrainConfig {
  return parseConfig(TrainConfigSchema, raw, 'train');
}
