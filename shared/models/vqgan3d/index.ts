// The 3D VQ-GAN's sampling-time networks (Medical Diffusion, Khader et al.
// 2022, §3.1, after TATS): encoder, codebook lookup, decoder, as pure
// functions of a flat parameter map. Training-only parts (discriminators,
// losses, EMA codebook updates) live in trainer/vqgan/.
//
// Parameters: `enc.*` + `pre_vq.*` (encoder), `codebook.embeddings` [nCodes,
// embeddingDim], `post_vq.*` + `dec.*` (decoder). Sampling needs only the
// decoder and the codebook; the encoder turns training volumes into latents.
import type * as tf from '@tensorflow/tfjs-core';
import type { Triple } from '../layers3d.ts';
import { initParams, param, ParamList } from '../params.ts';
import type { Params, ParamSpec } from '../types.ts';
import { quantize } from './codebook.ts';
import { parseVqgan3dConfig, type Vqgan3dConfig } from './config.ts';
import { decode, declareDecoder } from './decoder.ts';
import { declareEncoder, encode } from './encoder.ts';

export const CODEBOOK = 'codebook.embeddings';

/** Whether parameter `name` is needed to sample (decoder or codebook), as opposed to encoder-only. */
export function isSamplingParam(name: string): boolean {
  return name === CODEBOOK || name.startsWith('post_vq.') || name.startsWith('dec.');
}

export interface Vqgan3d {
  readonly kind: 'vqgan3d';
  readonly config: Vqgan3dConfig;
  readonly paramSpecs: readonly ParamSpec[];
  /** Fresh parameters (the codebook N(0, 1), as TATS; training replaces it from data). */
  init(seed: number): Params;
  /** The latent grid [d, h, w] of a [D, H, W] volume; throws when an axis does not divide. */
  latentShape(shape: readonly number[]): Triple;
  /** x [B, D, H, W, C] -> z [B, d, h, w, embeddingDim], before quantisation. Caller owns the result. */
  encode(params: Params, x: tf.Tensor5D): tf.Tensor5D;
  /** z [B, d, h, w, E] -> nearest codebook entries zq (no gradient) and their indices [B*d*h*w]. */
  quantize(params: Params, z: tf.Tensor5D): { zq: tf.Tensor5D; indices: Int32Array };
  /** Latents [B, d, h, w, E] -> x [B, D, H, W, C] (unclipped); `quantize` snaps them to the codebook first (sampling). */
  decode(params: Params, latents: tf.Tensor5D, opts?: { quantize?: boolean }): tf.Tensor5D;
}

/** `prefix` names the config in errors (`model.vqgan` when it is nested in another model's). */
export function vqgan3d(raw: unknown = {}, prefix = 'model'): Vqgan3d {
  const config = parseVqgan3dConfig(raw, prefix);
  const specs = new ParamList();
  declareEncoder(specs, config);
  specs.add(CODEBOOK, [config.nCodes, config.embeddingDim], 'normal', 1);
  declareDecoder(specs, config);
  const latentShape = (shape: readonly number[]): Triple => {
    if (shape.length !== 3 || shape.some((s, i) => !Number.isInteger(s) || s < 1 || s % config.downsample[i] !== 0)) {
      throw new Error(`vqgan3d: volume shape [${shape}] must be [D, H, W] with each axis a multiple of downsample [${config.downsample}]`);
    }
    return shape.map((s, i) => s / config.downsample[i]) as Triple;
  };
  const codebook = (params: Params) => param(params, CODEBOOK) as tf.Tensor2D;
  return {
    kind: 'vqgan3d',
    config,
    paramSpecs: specs.specs,
    init: (seed) => initParams(specs.specs, seed),
    latentShape,
    encode(params, x) {
      if (x.rank !== 5 || x.shape[4] !== config.channels) throw new Error(`vqgan3d: x must be [B, D, H, W, ${config.channels}], got [${x.shape}]`);
      latentShape(x.shape.slice(1, 4));
      return encode(params, config, x);
    },
    quantize(params, z) {
      const { zq, indices } = quantize(codebook(params), z);
      return { zq: zq as tf.Tensor5D, indices };
    },
    decode(params, latents, opts = {}) {
      if (latents.rank !== 5 || latents.shape[4] !== config.embeddingDim) {
        throw new Error(`vqgan3d: latents must be [B, d, h, w, ${config.embeddingDim}], got [${latents.shape}]`);
      }
      if (!opts.quantize) return decode(params, config, latents);
      const { zq } = quantize(codebook(params), latents);
      try {
        return decode(params, config, zq as tf.Tensor5D);
      } finally {
        zq.dispose();
      }
    },
  };
}

export { levelStrides, parseVqgan3dConfig, Vqgan3dConfigSchema, type Vqgan3dConfig } from './config.ts';
export { lookupCodes, nearestCodes, quantize, straightThrough } from './codebook.ts';
