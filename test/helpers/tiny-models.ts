// Tiny, deterministic checkpoints of every model kind, for the sampler suites
// (load, generate, CLI) and anything else that needs a real checkpoint fast.
//
// An untrained network predicts exactly 0 (its output conv is zero-initialised),
// which would make every sampler output the same function of the noise whatever
// the weights, labels or quantisation. So after init every model parameter gets
// small seeded N(0, perturbStd^2) noise: the network then depends on all of its
// weights, its input, its time and its label, like a trained one.
import * as tf from '@tensorflow/tfjs-core';
import type { Manifest, Quantization } from '../../shared/checkpoint/index.ts';
import { createModel } from '../../shared/models/index.ts';
import type { Model, Params } from '../../shared/models/types.ts';
import { Rng } from '../../shared/rng.ts';
import type { Prediction } from '../../shared/samplers/index.ts';
import { initLearnedGamma } from '../../shared/schedules/index.ts';
import { exportCheckpoint, type ExportMeta } from '../../trainer/export.ts';

/** The checkpoint kinds, plus `vdm-learned`: a vdm checkpoint with a learned gamma schedule. */
/** A latent-vdm config of test size: 16x16 images, an [8, 8] x 2 latent grid, a one-layer score network. */
export const TINY_LATENT_VDM = {
  channels: 2, embeddingDim: 8, nLayers: 1, groups: 4, fourierMin: 0, fourierMax: 0,
  autoencoder: { channels: [8, 8], blocks: 1, groups: 4 },
  image: { shape: [16, 16], channels: 1 },
};

export const TINY_KINDS = ['ddpm-unet2d', 'ddpm-unet3d', 'vdm', 'vdm-learned'] as const;
export type TinyKind = (typeof TINY_KINDS)[number];

export interface TinyOptions {
  /** Default fp32. */
  quantization?: Quantization;
  /** Class names; a non-empty list makes the model class-conditional (numClasses = labels.length). */
  labels?: string[];
  /** Seed for init and perturbation (same seed, same parameters). Default 1. */
  seed?: number;
  /** Std of the noise added to every model parameter after init; 0 keeps the untrained net. Default 0.05. */
  perturbStd?: number;
  /** ddpm kinds only: what the network predicts. Default eps (the schema's default, left out of the config). */
  prediction?: Prediction;
  /** Fields merged over the tiny model config (e.g. { fourierMin: 0, fourierMax: 0 }). */
  config?: Record<string, unknown>;
  /** Target shard size (small values give several shards). */
  shardBytes?: number;
  name?: string;
}

export interface TinyCheckpoint {
  kind: TinyKind;
  model: Model<unknown>;
  /** The exported parameters (the caller owns these tensors: see disposeParams). */
  params: Params;
  /** What exportCheckpoint was given besides the model: for re-encoding variants. */
  meta: ExportMeta;
  files: Map<string, Uint8Array>;
  manifest: Manifest;
}

/** Sizes from the brief: 2D 16x16, 3D 4 x 8x8, vdm 16x16 with 8 channels and one layer. */
export function tinyModelConfig(kind: TinyKind, opts: Pick<TinyOptions, 'labels' | 'prediction' | 'config'> = {}): Record<string, unknown> {
  return { ...baseConfig(kind, opts), ...opts.config };
}

function baseConfig(kind: TinyKind, opts: Pick<TinyOptions, 'labels' | 'prediction'>): Record<string, unknown> {
  const numClasses = opts.labels?.length ?? 0;
  const unet = { channels: 1, baseChannels: 8, channelMult: [1, 2], numResBlocks: 1, groups: 4, heads: 2, numClasses };
  const prediction = opts.prediction === undefined ? {} : { prediction: opts.prediction };
  switch (kind) {
    case 'ddpm-unet2d':
      return { ...unet, ...prediction };
    case 'ddpm-unet3d':
      return { ...unet, depth: 4, ...prediction };
    case 'vdm':
    case 'vdm-learned':
      return { channels: 1, embeddingDim: 8, nLayers: 1, groups: 4, heads: 1, numClasses };
  }
}

export function tinyModel(kind: TinyKind, opts: Pick<TinyOptions, 'labels' | 'prediction' | 'config'> = {}): Model<unknown> {
  return createModel(kind === 'vdm-learned' ? 'vdm' : kind, tinyModelConfig(kind, opts));
}

/** Realistic manifest metadata for each kind. */
export function tinyMeta(kind: TinyKind, opts: Pick<TinyOptions, 'labels' | 'name'> = {}): ExportMeta {
  const labels = opts.labels?.length ? { labels: [...opts.labels] } : {};
  const training = { steps: 0, note: 'tiny test checkpoint: perturbed init, not trained' };
  switch (kind) {
    case 'ddpm-unet2d':
      return {
        name: opts.name ?? 'tiny-mri-2d',
        modality: 'mri',
        ...labels,
        schedule: { kind: 'cosine', T: 100 },
        sampler: { name: 'ddim', steps: 5 },
        data: { shape: [16, 16], channels: 1, spacing: [1.0, 0.8], intensity: { kind: 'linear', low: 0, high: 255, unit: '' } },
        training,
      };
    case 'ddpm-unet3d':
      return {
        name: opts.name ?? 'tiny-ct-3d',
        modality: 'ct',
        ...labels,
        schedule: { kind: 'cosine', T: 100 },
        sampler: { name: 'ddim', steps: 5 },
        // [sD, sH, sW]: thick axial slices, slightly anisotropic in-plane so axis mix-ups show.
        data: { shape: [4, 8, 8], channels: 1, spacing: [2.5, 0.9, 0.8], intensity: { kind: 'hu-window', level: 40, width: 400 } },
        training,
      };
    case 'vdm':
    case 'vdm-learned':
      return {
        name: opts.name ?? (kind === 'vdm' ? 'tiny-xray-vdm' : 'tiny-xray-vdm-learned'),
        modality: 'xray',
        ...labels,
        schedule: kind === 'vdm' ? { kind: 'vdm-fixed-linear' } : { kind: 'vdm-learned', features: 16 },
        sampler: { name: 'vdm', steps: 5 },
        data: { shape: [16, 16], channels: 1, spacing: [0.14, 0.14], intensity: { kind: 'linear', low: 0, high: 4095, unit: '' } },
        training,
      };
  }
}

/** Adds seeded N(0, std^2) noise to every tensor (parameter i uses RNG stream i); disposes the originals. */
export function perturbParams(params: Params, seed: number, std: number): Params {
  const out: Params = new Map();
  [...params].forEach(([name, t], i) => {
    const noise = new Rng(seed + 1_000_003, i).normal(t.size).map((v) => v * std);
    const n = tf.tensor(noise, t.shape, 'float32');
    out.set(name, tf.add(t, n));
    tf.dispose([t, n]);
  });
  return out;
}

/** Model parameters (perturbed), plus gamma.* for vdm-learned. The caller owns them. */
export function tinyParams(kind: TinyKind, model: Model<unknown>, opts: Pick<TinyOptions, 'seed' | 'perturbStd'> = {}): Params {
  const seed = opts.seed ?? 1;
  const std = opts.perturbStd ?? 0.05;
  const params = std === 0 ? model.init(seed) : perturbParams(model.init(seed), seed, std);
  if (kind === 'vdm-learned') for (const [name, t] of initLearnedGamma(seed, -13.3, 5, 16)) params.set(name, t);
  return params;
}

export function disposeParams(params: Params): void {
  tf.dispose([...params.values()]);
}

/** A tiny checkpoint of `kind`: model, its parameters and the exported files. */
export async function tinyCheckpoint(kind: TinyKind, opts: TinyOptions = {}): Promise<TinyCheckpoint> {
  const model = tinyModel(kind, opts);
  const meta = tinyMeta(kind, opts);
  const params = tinyParams(kind, model, opts);
  try {
    const { manifest, files } = await exportCheckpoint(model, params, meta, opts.quantization ?? 'fp32', opts.shardBytes);
    return { kind, model, params, meta, files, manifest };
  } catch (e) {
    disposeParams(params);
    throw e;
  }
}

/** Just the files and manifest (no tensors stay allocated). */
export async function tinyFiles(kind: TinyKind, opts: TinyOptions = {}): Promise<Pick<TinyCheckpoint, 'files' | 'manifest'>> {
  const t = await tinyCheckpoint(kind, opts);
  disposeParams(t.params);
  return { files: t.files, manifest: t.manifest };
}

/**
 * A copy of `files` whose manifest.json went through `edit` (a plain JSON
 * object). Shards are untouched: the manifest carries no hash of itself, so
 * only what the edit changed can be objected to.
 */
export function editManifest(files: ReadonlyMap<string, Uint8Array>, edit: (m: Record<string, any>) => void): Map<string, Uint8Array> {
  const m = JSON.parse(new TextDecoder().decode(files.get('manifest.json')!)) as Record<string, any>;
  edit(m);
  const out = new Map(files);
  out.set('manifest.json', new TextEncoder().encode(`${JSON.stringify(m, null, 2)}\n`));
  return out;
}
