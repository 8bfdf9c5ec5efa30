// Named model presets: network, schedule, default sampler and data layout.
// The training issue adds optimiser and data settings to these; today they
// also make untrained checkpoints (`medsynth init`), the project's embedded
// default until trained weights ship.
import { LATENT_DDPM_KIND } from '../shared/models/latent-ddpm.ts';
import { LATENT_VDM_KIND } from '../shared/models/latent-vdm.ts';
import type { ExportMeta } from './export.ts';
import type { PipelineConfigInput } from './preprocess/pipeline.ts';
import { ConfigError } from '../shared/config.ts';

export interface Preset {
  description: string;
  kind: string;
  model: Record<string, unknown>;
  meta: ExportMeta;
  /** Preprocessing beyond the grid and intensity kind that meta.data implies (trainer/preprocess/pipeline.ts). */
  data?: Partial<PipelineConfigInput>;
  /** Training settings (trainer/config.ts) under the run config's. */
  train?: Record<string, unknown>;
}

// CPU-sized training defaults; brains are near-symmetric, so left-right flips are plausible.
const brainTrain = { batchSize: 8, lr: 2e-4, warmup: 100, flip: ['W'] };
/** The 64x64 slice UNet the MRI and CT presets share. */
const unet2d64 = { baseChannels: 32, channelMult: [1, 2, 2], numResBlocks: 1, attentionLevels: [2] };
/** Medical Diffusion's schedule (cosine, T = 300), sampled in 20 DPM-Solver++ steps. */
const ddpmCosine = { schedule: { kind: 'cosine', T: 300 }, sampler: { name: 'dpm-solver++', steps: 20 } };

/** Radiographs are separate whole images: fitted into the grid (aspect kept, padded) and windowed per image. */
const radiographs = (shape: [number, number]): Partial<PipelineConfigInput> => ({
  modality: 'xray',
  target: { shape, fit: 'contain' },
  intensity: { kind: 'percentile' },
});

const mri8bit = { kind: 'linear', low: 0, high: 255, unit: '' } as const;

/**
 * The latent VDM's score network on a 32x32 x 4 latent: two levels, so the
 * middle attention spans 16 x 16; no Fourier features (they resolve the fine
 * value grid of pixels, which latents do not have).
 */
const latentVdmScore = { channels: 4, embeddingDim: 64, nLayers: 2, channelMult: [1, 2], groups: 8, fourierMin: 0, fourierMax: 0 };

/**
 * A latent VDM on side x side radiographs, the autoencoder's levels `channels`
 * (the side halves between them, to 32 here), with Medical VDM's optimiser
 * (DESIGN §3.2: AdamW lr 8e-4 after 250 warm-up steps, cosine decay, weight
 * decay 1e-4) and the batch the wasm heap allows. No flips (radiographs).
 */
function latentVdmPreset(description: string, side: number, channels: number[], batch: { batchSize: number; accumulate: number }): Preset {
  const name = `cxr-latent-vdm-${side}`;
  return {
    description,
    kind: LATENT_VDM_KIND,
    model: { ...latentVdmScore, autoencoder: { channels, blocks: 1 }, image: { shape: [side, side], channels: 1 } },
    meta: {
      name,
      modality: 'xray',
      schedule: { kind: 'vdm-learned' },
      sampler: { name: 'vdm', steps: 100 },
      data: { shape: [side, side], channels: 1, spacing: [1, 1], intensity: mri8bit },
    },
    data: radiographs([side, side]),
    train: { lr: 8e-4, warmup: 250, weightDecay: 1e-4, ...batch },
  };
}

export const PRESETS: Record<string, Preset> = {
  'brain-mri-2d-64': {
    description: 'DDPM, UNet2D, 64x64 axial T1 MRI slices',
    kind: 'ddpm-unet2d',
    model: unet2d64,
    meta: {
      name: 'brain-mri-2d-64',
      modality: 'mri',
      ...ddpmCosine,
      data: { shape: [64, 64], channels: 1, spacing: [1, 1], intensity: mri8bit },
    },
    // Axial slices at 2.75 mm fit an adult brain (~140 x 170 mm) in 64 x 64.
    data: { target: { shape: [64, 64], spacing: [2.75, 2.75] }, modality: 'mri', intensity: { kind: 'nyul' } },
    train: brainTrain,
  },
  'tiny-mri-2d-16': {
    description: 'A tiny DDPM UNet2D on 16x16 axial MRI slices at 12 mm: trains in seconds on a CPU (demos, tests)',
    kind: 'ddpm-unet2d',
    model: { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, attentionLevels: [1] },
    meta: {
      name: 'tiny-mri-2d-16',
      modality: 'mri',
      schedule: { kind: 'cosine', T: 300 },
      sampler: { name: 'ddim', steps: 10 },
      data: { shape: [16, 16], channels: 1, spacing: [12, 12], intensity: mri8bit },
    },
    data: { target: { shape: [16, 16], spacing: [12, 12] }, modality: 'mri', intensity: { kind: 'nyul' } },
    train: { ...brainTrain, batchSize: 4, steps: 40, lr: 1e-3, warmup: 5, checkpointEvery: 20, validateEvery: 20 },
  },
  'head-ct-2d-64': {
    description: 'DDPM, UNet2D, 64x64 axial head CT slices in a brain window',
    kind: 'ddpm-unet2d',
    model: unet2d64,
    meta: {
      name: 'head-ct-2d-64',
      modality: 'ct',
      ...ddpmCosine,
      data: { shape: [64, 64], channels: 1, spacing: [1, 1], intensity: { kind: 'hu-window', level: 40, width: 400 } },
    },
    // A head (~200 mm across) at 4 mm in 64 x 64.
    data: { target: { shape: [64, 64], spacing: [4, 4] }, modality: 'ct' },
    train: brainTrain,
  },
  'brain-mri-3d-32': {
    description: 'DDPM, UNet3D (3x3x1 convs, spatial + depth attention), 32^3 T1 MRI volumes',
    kind: 'ddpm-unet3d',
    // Attention at the lowest level (8 x 8) only: at 32 x 32 a spatial attention map is 1024^2 per
    // slice and head (1 GiB of scores at batch 2), and at 16 x 16 training still exhausts the wasm heap.
    model: { baseChannels: 16, channelMult: [1, 2, 2], numResBlocks: 1, depth: 32, attentionLevels: [2] },
    meta: {
      name: 'brain-mri-3d-32',
      modality: 'mri',
      ...ddpmCosine,
      data: { shape: [32, 32, 32], channels: 1, spacing: [2, 2, 2], intensity: mri8bit },
    },
    data: { target: { shape: [32, 32, 32], spacing: [5.5, 5.5, 5.5] }, modality: 'mri', intensity: { kind: 'nyul' } },
    train: { ...brainTrain, batchSize: 1, accumulate: 2 },
  },
  'brain-vdm-2d-64': {
    description: 'VDM with a learned schedule, 64x64 axial brain slices; a three-level score network (attention at 16x16) sized for CPU training',
    kind: 'vdm',
    model: { embeddingDim: 32, nLayers: 2, channelMult: [1, 2, 2] },
    meta: {
      name: 'brain-vdm-2d-64',
      modality: 'mri',
      schedule: { kind: 'vdm-learned' },
      sampler: { name: 'vdm', steps: 100 },
      data: { shape: [64, 64], channels: 1, spacing: [1, 1], intensity: mri8bit },
    },
    data: { target: { shape: [64, 64], spacing: [3.4, 3.4] }, modality: 'mri', intensity: { kind: 'nyul' } },
    train: brainTrain,
  },
  'cxr-2d-64': {
    description: 'DDPM, UNet2D with v-prediction, 64x64 frontal chest X-rays (whole image, aspect kept, per-image window)',
    kind: 'ddpm-unet2d',
    // v-prediction keeps the x0 estimate well conditioned at the cosine schedule's last step
    // (alpha_T = 1.6e-4), so deterministic samplers work in few steps.
    model: { ...unet2d64, prediction: 'v' },
    meta: {
      name: 'cxr-2d-64',
      modality: 'xray',
      schedule: { kind: 'cosine', T: 300 },
      sampler: { name: 'ddim', steps: 20, eta: 0 },
      data: { shape: [64, 64], channels: 1, spacing: [1, 1], intensity: mri8bit },
    },
    data: radiographs([64, 64]),
    // No flips: a mirrored chest X-ray shows the heart on the wrong side.
    train: { batchSize: 8, lr: 2e-4, warmup: 100, loss: 'l2' },
  },
  'cxr-vdm-64': {
    description: 'VDM with a learned schedule, 64x64 chest X-rays',
    kind: 'vdm',
    model: { embeddingDim: 32, nLayers: 4 },
    meta: {
      name: 'cxr-vdm-64',
      modality: 'xray',
      schedule: { kind: 'vdm-learned' },
      sampler: { name: 'vdm', steps: 100 },
      data: { shape: [64, 64], channels: 1, spacing: [1, 1], intensity: mri8bit },
    },
    // No flips: a mirrored chest X-ray shows the heart on the wrong side.
    data: radiographs([64, 64]),
    // The score network keeps full resolution, so its middle attention spans 4096 tokens:
    // batches of 2 keep the scores (and their gradients) inside the wasm heap.
    train: { batchSize: 2, accumulate: 4, lr: 2e-4, warmup: 100 },
  },
  'cxr-vdm-256': {
    description: "VDM with a learned schedule, 256x256 chest X-rays (Medical VDM's setting)",
    kind: 'vdm',
    model: { embeddingDim: 64, nLayers: 8 },
    meta: {
      name: 'cxr-vdm-256',
      modality: 'xray',
      schedule: { kind: 'vdm-learned' },
      sampler: { name: 'vdm', steps: 250 },
      data: { shape: [256, 256], channels: 1, spacing: [1, 1], intensity: mri8bit },
    },
    data: radiographs([256, 256]),
    train: { batchSize: 4, accumulate: 4, lr: 2e-4, warmup: 500 },
  },
  'cxr-latent-vdm-128': latentVdmPreset(
    'Medical VDM: a VDM (learned schedule) in the 32x32 latent of a ResNet autoencoder trained with it, 128x128 chest X-rays',
    128,
    [32, 64, 64],
    // Batches of 4 (a batch of 8 exhausts the wasm heap in the autoencoder's 128x128 gradients), accumulated to 8.
    { batchSize: 4, accumulate: 2 },
  ),
  'cxr-latent-vdm-256': latentVdmPreset(
    "Medical VDM's setting: 256x256 chest X-rays through a ResNet autoencoder to a 32x32 latent and a VDM on it",
    256,
    [32, 64, 64, 64],
    // One 256x256 image per micro-batch fits the wasm heap (2 hold about what the batch of 8 at 128x128 did that exhausted it), accumulated to 8.
    { batchSize: 1, accumulate: 8 },
  ),
};

// ---------------------------------------------------------------------------
// Latent diffusion in two stages (Medical Diffusion, DESIGN §3.3): a VQ-GAN
// (kind vqgan3d) trained on volumes, then a UNet3D DDPM trained on its
// latents (`medsynth encode`), exported together as kind latent-ddpm-vqgan3d.
// A stage preset trains, but makes no checkpoint on its own (`medsynth init`
// and the training benchmark take PRESETS only).

/** Preset kinds of the two stages. */
export const VQGAN_STAGE = 'vqgan3d';
export const LATENT_STAGE = LATENT_DDPM_KIND;

/** A VQ-GAN trains no diffusion: its manifest-shaped meta fills these with placeholders. */
const noSampling = { schedule: {}, sampler: { name: 'none', steps: 1 } };
/** The latent DDPM's examples: scaled codebook vectors in [-1, 1], no real units (export puts the volume's back). */
const latentSpace = { kind: 'linear', low: -1, high: 1, unit: '' } as const;
/** VQ-GAN loop and trainer settings shared by the stage presets (trainer/vqgan/job.ts, trainer/vqgan/config.ts). */
const vqganTrain = { batchSize: 2, lr: 3e-4, flip: ['W'], checkpointEvery: 100, validateEvery: 100 };

export const STAGE_PRESETS: Record<string, Preset> = {
  'brain-vqgan-3d-32': {
    description: '3D VQ-GAN (stage 1): 32^3 T1 MRI volumes at 5.5 mm to 8^3 latents of 8 channels, sized for a CPU',
    kind: VQGAN_STAGE,
    // Medical Diffusion: nHiddens 16, codebook 16384 x 8. Halved widths and 512 codes train at a few s/step on wasm.
    model: { nHiddens: 8, groups: 8, downsample: [4, 4, 4], nCodes: 512, embeddingDim: 8 },
    meta: { name: 'brain-vqgan-3d-32', modality: 'mri', ...noSampling, data: { shape: [32, 32, 32], channels: 1, spacing: [5.5, 5.5, 5.5], intensity: mri8bit } },
    data: { target: { shape: [32, 32, 32], spacing: [5.5, 5.5, 5.5] }, modality: 'mri', intensity: { kind: 'nyul' } },
    train: { ...vqganTrain, steps: 3000, discStart: 1500, discChannels: 8, discLayers: 2, discGroups: 8 },
  },
  'brain-latent-ddpm-3d': {
    description: 'Latent DDPM (stage 2): UNet3D with spatial and depth attention at every level on brain-vqgan-3d-32 latents (8^3 x 8)',
    kind: LATENT_STAGE,
    // channels and depth come from meta.data (the latents); attention defaults to every level.
    model: { baseChannels: 32, channelMult: [1, 2], numResBlocks: 1, groups: 8, heads: 4 },
    meta: { name: 'brain-latent-ddpm-3d', modality: 'mri', ...ddpmCosine, data: { shape: [8, 8, 8], channels: 8, spacing: [22, 22, 22], intensity: latentSpace } },
    train: { steps: 4000, batchSize: 8, lr: 2e-4, warmup: 100 },
  },
  'tiny-vqgan-3d-16': {
    description: 'A tiny 3D VQ-GAN: 16^3 volumes at 12 mm to 4^3 latents of 4 channels; trains in seconds (demos, tests)',
    kind: VQGAN_STAGE,
    model: { nHiddens: 4, groups: 4, downsample: [4, 4, 4], nCodes: 32, embeddingDim: 4 },
    meta: { name: 'tiny-vqgan-3d-16', modality: 'mri', ...noSampling, data: { shape: [16, 16, 16], channels: 1, spacing: [12, 12, 12], intensity: mri8bit } },
    data: { target: { shape: [16, 16, 16], spacing: [12, 12, 12] }, modality: 'mri', intensity: { kind: 'nyul' } },
    train: { ...vqganTrain, steps: 40, lr: 2e-3, discStart: 20, discChannels: 4, discLayers: 2, discGroups: 4, checkpointEvery: 20, validateEvery: 20 },
  },
  'tiny-latent-ddpm-3d': {
    description: 'A tiny latent DDPM on tiny-vqgan-3d-16 latents (4^3 x 4): trains in seconds (demos, tests)',
    kind: LATENT_STAGE,
    model: { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2 },
    meta: {
      name: 'tiny-latent-ddpm-3d',
      modality: 'mri',
      schedule: { kind: 'cosine', T: 300 },
      sampler: { name: 'ddim', steps: 10 },
      data: { shape: [4, 4, 4], channels: 4, spacing: [48, 48, 48], intensity: latentSpace },
    },
    train: { steps: 40, batchSize: 4, lr: 1e-3, warmup: 5, checkpointEvery: 20, validateEvery: 20 },
  },
};

/** Every preset `medsynth train --config` takes: the model presets and the two-stage ones. */
export function presetNames(): string[] {
  return [...Object.keys(PRESETS), ...Object.keys(STAGE_PRESETS)];
}

export function getPreset(name: string): Preset {
  if (Object.hasOwn(PRESETS, name)) return PRESETS[name];
  if (Object.hasOwn(STAGE_PRESETS, name)) return STAGE_PRESETS[name];
  throw new ConfigError('preset', `unknown preset "${name}"; presets: ${presetNames().join(', ')}`);
}
