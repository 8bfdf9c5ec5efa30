// Latent diffusion over a 3D VQ-GAN (Medical Diffusion, Khader et al. 2022,
// §3): a UNet3D denoiser (spatial and depth attention) on the VQ-GAN's
// quantised latents scaled to [-1, 1], and the VQ-GAN's decoder and codebook,
// which turn sampled latents back into a volume. Checkpoint kind
// `latent-ddpm-vqgan3d`: both networks in one checkpoint.
//
// Config: the UNet3D's own fields at the top level (channels = the codebook
// width E, depth = the latent depth d), where every other checkpoint keeps
// them, so `numClasses` and `prediction` are read the same way for every
// kind; plus
//   vqgan:  the VQ-GAN's network config (shared/models/vqgan3d);
//   latent: { shape: [d, h, w], min, max }: the latent grid, and the
//           codebook's value range that maps latents to [-1, 1].
// Parameters: `unet.*` (the denoiser) and `vqgan.*` (`post_vq.*`, `dec.*`,
// `codebook.embeddings`; the encoder is not needed to sample and stays out).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../config.ts';
import { initParams, paramsUnder } from './params.ts';
import type { Model, ParamSpec } from './types.ts';
import { unet3d, type UNet3DConfig } from './unet3d.ts';
import { checkInput, inputProblem, type InputSpec } from './validate.ts';
import { isSamplingParam, vqgan3d, type Vqgan3dConfig } from './vqgan3d/index.ts';

export const LATENT_DDPM_KIND = 'latent-ddpm-vqgan3d';
export const UNET_PREFIX = 'unet.';
export const VQGAN_PREFIX = 'vqgan.';

const dim = z.number().int().min(1).max(1024);

/** The latent grid and the scale between codebook values and [-1, 1]. */
export const LatentSpecSchema = z
  .strictObject({
    shape: z.tuple([dim, dim, dim]),
    min: z.number().finite(),
    max: z.number().finite(),
  })
  .refine((l) => l.max > l.min, { path: ['max'], message: 'must be greater than min' });
export type LatentSpec = z.infer<typeof LatentSpecSchema>;
export type LatentScale = Pick<LatentSpec, 'min' | 'max'>;

export type LatentDdpmConfig = UNet3DConfig & { vqgan: Vqgan3dConfig; latent: LatentSpec };

/**
 * The codebook's value range over all entries: Medical Diffusion scales
 * latents by the embeddings' global min and max, so every code maps into
 * [-1, 1]. Throws for a constant codebook (no range to scale by).
 */
export function codebookRange(codebook: Float32Array): LatentScale {
  let min = Infinity;
  let max = -Infinity;
  for (const v of codebook) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) throw new Error(`latent scale: the codebook has no range (min ${min}, max ${max})`);
  return { min, max };
}

/** Latents to diffusion space: x = 2 (z - min) / (max - min) - 1. */
export function scaleLatents(z: Float32Array, s: LatentScale): Float32Array {
  const k = 2 / (s.max - s.min);
  return z.map((v) => (v - s.min) * k - 1);
}

/** Diffusion space back to codebook values: z = (x + 1) (max - min) / 2 + min. */
export function unscaleLatents(x: tf.Tensor, s: LatentScale): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(tf.add(x, 1), (s.max - s.min) / 2), s.min));
}

const prefixed = (prefix: string, specs: readonly ParamSpec[]) => specs.map((s) => ({ ...s, name: prefix + s.name }));

export function latentDdpm(raw: unknown = {}): Model<LatentDdpmConfig> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('model', 'expected an object');
  const { vqgan: rawVqgan, latent: rawLatent, ...rawUnet } = raw as Record<string, unknown>;
  const unet = unet3d(rawUnet);
  const vqgan = vqgan3d(rawVqgan, 'model.vqgan');
  const latent = parseConfig(LatentSpecSchema, rawLatent, 'model.latent');
  const u = unet.config;
  const v = vqgan.config;
  if (u.channels !== v.embeddingDim) throw new ConfigError('model.channels', `${u.channels} must equal model.vqgan.embeddingDim (${v.embeddingDim}): the denoiser runs on codebook vectors`);
  if (u.depth !== latent.shape[0]) throw new ConfigError('model.depth', `${u.depth} must equal the latent depth model.latent.shape[0] (${latent.shape[0]})`);
  const shapeProblem = inputProblem(unet.input, [...latent.shape, u.channels]);
  if (shapeProblem) throw new ConfigError('model.latent.shape', `does not fit the denoiser: ${shapeProblem}`);

  const config: LatentDdpmConfig = { ...u, vqgan: v, latent };
  const specs = [...prefixed(UNET_PREFIX, unet.paramSpecs), ...prefixed(VQGAN_PREFIX, vqgan.paramSpecs.filter((s) => isSamplingParam(s.name)))];
  const input: InputSpec = { ...unet.input, shape: [...latent.shape] };
  const volume = latent.shape.map((s, i) => s * v.downsample[i]);
  const output: InputSpec = { spatialDims: 3, channels: v.channels, multipleOf: 1, shape: volume };
  const checkLatents = (what: string, x: tf.Tensor) => {
    const problem = x.rank !== 5 ? `latents must be [B, d, h, w, E], got [${x.shape}]` : inputProblem(input, x.shape.slice(1));
    if (problem) throw new Error(`${LATENT_DDPM_KIND}: ${what}: ${problem}`);
  };
  return {
    kind: LATENT_DDPM_KIND,
    config,
    paramSpecs: specs,
    input,
    output,
    init: (seed) => initParams(specs, seed),
    /** The denoiser on scaled latents x [B, d, h, w, E]. */
    apply(params, x, t, cond, pre) {
      checkInput(LATENT_DDPM_KIND, input, x, t);
      return unet.apply(paramsUnder(params, UNET_PREFIX), x, t, cond, pre);
    },
    condition: (params, t, cond) => unet.condition(paramsUnder(params, UNET_PREFIX), t, cond),
    /** Scaled latents [B, d, h, w, E] -> unscaled and snapped to the codebook: zq [B, d, h, w, E]. */
    toCodes(params, latents) {
      checkLatents('toCodes', latents);
      const z = unscaleLatents(latents, latent) as tf.Tensor5D;
      try {
        return vqgan.quantize(paramsUnder(params, VQGAN_PREFIX), z).zq;
      } finally {
        z.dispose();
      }
    },
    /** zq [B, d, h, w, E] -> the VQ-GAN decoder's volume [B, D, H, W, C]. */
    decode(params, codes) {
      checkLatents('decode', codes);
      return vqgan.decode(paramsUnder(params, VQGAN_PREFIX), codes as tf.Tensor5D);
    },
  };
}
