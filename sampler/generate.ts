// generate(): from a loaded checkpoint to images in real units.
//
// Noise comes from the counter-based RNG with one stream per image (stream =
// image index), so image i is identical whether it is generated alone or in a
// batch, and identical on every backend up to float rounding in the network
// (which the VDM score network's Fourier features amplify: measured up to
// 7e-3 of the intensity range between cpu and wasm after 5 steps).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { labelData } from '../shared/checkpoint/index.ts';
import { forField } from '../shared/config.ts';
import { realRange, realUnit, toRealUnits } from '../shared/intensity.ts';
import { Rng } from '../shared/rng.ts';
import { planRequest, type RequestPlan, type SampleOptions } from '../shared/request-plan.ts';
import { createSampler, makeDenoiser, type Sampler } from '../shared/samplers/index.ts';
import type { TimePoint } from '../shared/schedules/types.ts';
import type { GeneratedImage } from './encode/types.ts';
import { GridConditioning } from './grid-conditioning.ts';
import type { LoadedModel } from './load.ts';
import { networkEngine } from './network-engine.ts';

/** Library options: a sampling request (shared/request-plan.ts) plus how to run it. */
export interface GenerateOptions extends SampleOptions {
  /** Index of the first image: image i draws noise stream first + i, so a batch split across threads gives the same images. */
  first?: number;
  /** Images per network call. */
  batchSize?: number;
  /** Where the sampler's grid puts its steps (default: the sampler's own choice). */
  spacing?: 'time' | 'log-snr';
}

const DEFAULT_BATCH_SIZE = 4;

/** The library-only fields, validated by the request plan beside the common ones. */
const RUN_FIELDS = {
  first: z.number().int().min(0).max(1_000_000).default(0),
  batchSize: z.number().int().min(1).max(256).default(DEFAULT_BATCH_SIZE),
  spacing: z.enum(['time', 'log-snr']),
};

export interface GenerateProgress {
  /** Steps done over all batches, and their total. */
  step: number;
  totalSteps: number;
}

export interface GenerateResult {
  images: GeneratedImage[];
  backend: string;
  sampler: string;
  steps: number;
  seed: number;
}

/** Generation settings resolved against a model: every option checked, defaults from its manifest. */
export interface GenerationPlan {
  readonly [PLANNED]: true;
  count: number;
  first: number;
  batchSize: number;
  seed: number;
  sampler: Sampler;
  steps: number;
  grid: TimePoint[];
  guidance: number;
  /** The label fed to the network (the null label for unconditional sampling of a conditional model). */
  label?: number;
  nullLabel?: number;
}
const PLANNED = Symbol('medsynth.generationPlan');

function isPlan(x: GenerateOptions | GenerationPlan): x is GenerationPlan {
  return Object.hasOwn(x, PLANNED);
}

/**
 * Plans `options` for the model (planRequest: every problem at once, as a
 * RequestError naming the fields) and builds its sampler and time grid.
 * generate() takes the plan, so a request is planned once.
 */
export function planGeneration(m: LoadedModel, options: GenerateOptions | GenerationPlan = {}): GenerationPlan {
  if (isPlan(options)) return options;
  return generationPlan(m, planRequest(options, m.manifest, { extra: RUN_FIELDS }));
}

/** A planned request (already checked against the model's manifest) with its sampler and grid. */
export function generationPlan(m: LoadedModel, r: RequestPlan & Pick<GenerateOptions, 'first' | 'batchSize' | 'spacing'>): GenerationPlan {
  const sampler = forField('sampler', () => createSampler(r.sampler, { eta: r.eta }));
  const grid = forField('steps', () => m.schedule.grid(r.steps, r.spacing ?? sampler.defaultSpacing));
  // The null label of classifier-free guidance is index numClasses; unconditional models have none.
  const nullLabel = m.manifest.labels?.length ? m.manifest.labels.length : undefined;
  // A conditional model asked for no label samples unconditionally (the null label).
  return { [PLANNED]: true, count: r.count, first: r.first ?? 0, batchSize: r.batchSize ?? DEFAULT_BATCH_SIZE, seed: r.seed, sampler, steps: r.steps, grid, guidance: r.guidance, label: r.label ?? nullLabel, nullLabel };
}

export async function generate(
  m: LoadedModel,
  options: GenerateOptions | GenerationPlan = {},
  hooks: { onProgress?: (p: GenerateProgress) => void; signal?: AbortSignal } = {},
): Promise<GenerateResult> {
  const plan = planGeneration(m, options);
  const { sampler, steps, grid, label, nullLabel, guidance } = plan;

  const { shape: spatial, channels } = m.manifest.data;
  // The class's own modality, spacing and units when classes differ (the null label has none).
  const { modality, spacing: voxelSpacing, intensity } = labelData(m.manifest, label === nullLabel ? undefined : label);
  const imageSize = spatial.reduce((a, b) => a * b, 1) * channels;
  // Diffusion runs in the model's input space: the image itself, or a latent model's latent grid (decoded at the end).
  const latent = m.model.toCodes !== undefined && m.model.decode !== undefined;
  const noiseShape = latent ? [...m.model.input.shape!, m.model.input.channels] : [...spatial, channels];
  const noiseSize = noiseShape.reduce((a, b) => a * b, 1);
  const batches: number[][] = [];
  for (let i = 0; i < plan.count; i += plan.batchSize) batches.push(Array.from({ length: Math.min(plan.batchSize, plan.count - i) }, (_, j) => i + j));
  const totalSteps = steps * batches.length;

  // The time/label path of the network for every grid time, computed once for all batches.
  const conditioning = new GridConditioning(m.model, m.params, grid.map((p) => m.schedule.networkTime(p.t)));
  const engine = networkEngine();
  const net = engine.net(m, conditioning);
  const decoder = latent ? engine.decoder(m) : undefined;
  const images: GeneratedImage[] = [];
  try {
    for (const [b, indices] of batches.entries()) {
      const streams = indices.map((i) => new Rng(plan.seed, plan.first + i));
      const shape = [indices.length, ...noiseShape];
      const draw = () => {
        const data = new Float32Array(indices.length * noiseSize);
        streams.forEach((r, j) => data.set(r.normal(noiseSize), j * noiseSize));
        return tf.tensor(data, shape);
      };
      const labels = label === undefined ? undefined : indices.map(() => label);
      const z = draw();
      const xT = tf.mul(z, grid[0].sigma);
      z.dispose();
      let out: tf.Tensor;
      try {
        const denoiser = makeDenoiser({
          net,
          schedule: m.schedule,
          prediction: m.prediction,
          clipX0: true,
          labels,
          nullLabel,
          guidance,
        });
        out = await sampler.sample({
          denoiser,
          grid,
          xT,
          noise: draw,
          signal: hooks.signal,
          onStep: (k) => hooks.onProgress?.({ step: b * steps + k, totalSteps }),
        });
      } finally {
        xT.dispose();
      }
      // The path ends at t = 0: x = z_0 / alpha_0 (alpha_0 = 1 for DDPM; VDM keeps a little noise at t = 0).
      // A latent model's x are latents: divided on the device, snapped to codes, decoded to images.
      let alpha0 = grid[grid.length - 1].alpha;
      if (decoder) {
        let codes: tf.Tensor;
        try {
          codes = tf.tidy(() => m.model.toCodes!(m.params, tf.div(out, alpha0)));
        } finally {
          out.dispose();
        }
        try {
          out = await decoder(codes); // [B, ...latent] -> [B, ...spatial, channels]
        } finally {
          codes.dispose();
        }
        alpha0 = 1;
      }
      const data = await out.data();
      out.dispose();
      let bad = 0;
      for (let i = 0; i < data.length; i++) {
        data[i] /= alpha0;
        if (!Number.isFinite(data[i])) bad++;
      }
      if (bad > 0) throw new Error(`generation produced ${bad} non-finite values on the ${engine.name} backend (model "${m.manifest.name}")`);
      indices.forEach((_, j) => {
        images.push({
          data: toRealUnits(data.subarray(j * imageSize, (j + 1) * imageSize) as Float32Array, intensity),
          shape: [...spatial, channels],
          spacing: [...voxelSpacing],
          modality,
          unit: realUnit(intensity),
          range: realRange(intensity),
        });
      });
    }
  } finally {
    conditioning.dispose();
  }
  return { images, backend: engine.name, sampler: sampler.name, steps, seed: plan.seed };
}
