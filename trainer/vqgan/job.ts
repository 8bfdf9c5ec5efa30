// The VQ-GAN's training (trainer.ts) as a run's job (../run.ts). Its
// metrics.jsonl rows: per logged step, losses, codebook perplexity and
// restarted (dead) codes; per validation, held-out reconstruction PSNR and
// SSIM, and codebook usage on the held-out volumes.
//
// Batches are drawn from (seed, step) alone and flips from (seed, step,
// position), so a resumed run sees the batches an uninterrupted one would.
import { z } from 'zod';
import { parseConfig } from '../../shared/config.ts';
import { Rng } from '../../shared/rng.ts';
import { ssim } from '../evaluate/metrics/ssim.ts';
import { flip, flipsAt } from '../preprocess/augment.ts';
import type { TrainingJob } from '../run.ts';
import type { ExampleSet } from '../trainer.ts';
import { perplexity } from './codebook-ema.ts';
import type { VqganMetrics, VqganTrainer } from './trainer.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** The run loop's settings; they sit beside the VqganTrainer's in a run config's `train` section. */
export const VqganRunSettingsSchema = z.strictObject({
  steps: int(1, 10_000_000).default(2000),
  /** Volumes per step. */
  batchSize: int(1, 256).default(2),
  /** Seeds the networks' init, the codebook and the batches (a resumed run keeps its own). */
  seed: int(0, 2 ** 31 - 1).default(0),
  /** Axes of [D, H, W] to flip at random (p = 0.5 each); 'W' is left-right. */
  flip: z.array(z.enum(['D', 'H', 'W'])).max(3).default([]),
  /** Every N steps: write the checkpoint, validate on the held-out volumes. 0 = never (the last step always saves). */
  checkpointEvery: int(0, 10_000_000).default(200),
  validateEvery: int(0, 10_000_000).default(200),
  logEvery: int(1, 10_000_000).default(10),
});
export type VqganRunSettings = z.infer<typeof VqganRunSettingsSchema>;

const RUN_KEYS = new Set(Object.keys(VqganRunSettingsSchema.shape));

/** A run config's `train` section split into the loop's settings (validated) and the VqganTrainer's config (raw). */
export function splitVqganTrain(train: Record<string, unknown>): { settings: VqganRunSettings; trainer: Record<string, unknown> } {
  const pick = (inLoop: boolean) => Object.fromEntries(Object.entries(train).filter(([k]) => RUN_KEYS.has(k) === inLoop));
  return { settings: parseConfig(VqganRunSettingsSchema, pick(true), 'train'), trainer: pick(false) };
}

/** The data stream of batch draws (above VqganTrainer's streams). */
const DATA_STREAM = 0x4000_0010;

/** Step `step`'s batch: batchSize volumes drawn with replacement, flipped as configured. */
export function batchAt(data: ExampleSet, seed: number, step: number, s: VqganRunSettings): Float32Array[] {
  const rng = new Rng(seed, DATA_STREAM, step * s.batchSize); // one counter per draw
  const shape = data.shape.slice(0, 3) as [number, number, number];
  return Array.from({ length: s.batchSize }, (_, j) => {
    const x = data.get(rng.int(data.size)).x;
    const flips = s.flip.length ? flipsAt(seed, step, j, { axes: s.flip }) : [];
    return flips.length ? flip(x, shape, flips) : x;
  });
}

export interface VqganValidation {
  volumes: number;
  /** Means over the held-out volumes, model space (range 2). */
  psnr: number;
  ssim: number;
  /** Codebook usage over all held-out latents: exp(entropy), codes used, codes never used. */
  perplexity: number;
  usedCodes: number;
  unusedCodes: number;
}

/** Held-out reconstruction quality and codebook usage (no training state changes). */
export function validateVqgan(trainer: VqganTrainer, data: ExampleSet): VqganValidation {
  const volumes = Array.from({ length: data.size }, (_, i) => data.get(i).x);
  const { recon, psnr, indices } = trainer.evaluate(volumes);
  const shape = trainer.config.shape;
  const ssims = recon.map((r, i) => ssim(r, volumes[i], shape, 2));
  const all = new Int32Array(indices.reduce((n, a) => n + a.length, 0));
  indices.reduce((at, a) => (all.set(a, at), at + a.length), 0);
  const used = new Set(all).size;
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const nCodes = trainer.config.model.nCodes;
  return { volumes: volumes.length, psnr: mean(psnr), ssim: mean(ssims), perplexity: perplexity(all, nCodes), usedCodes: used, unusedCodes: nCodes - used };
}

/** The job that trains `trainer` under `settings` on `train`, validating on `validation` when given. */
export function vqganJob(trainer: VqganTrainer, settings: VqganRunSettings, train: ExampleSet, validation?: ExampleSet): TrainingJob<VqganMetrics> {
  const want = [...trainer.config.shape, trainer.config.model.channels];
  for (const [name, set] of [['training', train], ['held-out', validation]] as const) {
    if (set && set.shape.join() !== want.join()) throw new Error(`vqgan run: ${name} volumes are [${set.shape}], the VQ-GAN trains on [${want}]`);
  }
  if (train.size === 0) throw new Error('vqgan run: the training set is empty');
  const nCodes = trainer.config.model.nCodes;
  return {
    get step() {
      return trainer.step;
    },
    plan: { ...settings, previewEvery: 0 },
    trainStep: () => {
      const metrics = trainer.trainStep(batchAt(train, trainer.seed, trainer.step, settings));
      return { metrics, loss: metrics.aeLoss };
    },
    validate: validation
      ? () => {
          const v = validateVqgan(trainer, validation);
          return { validation: v, line: `held-out PSNR ${v.psnr.toFixed(2)} dB, SSIM ${v.ssim.toFixed(4)}, codebook perplexity ${v.perplexity.toFixed(1)}, ${v.unusedCodes} of ${nCodes} codes unused` };
        }
      : undefined,
    save: () => trainer.save(),
  };
}
