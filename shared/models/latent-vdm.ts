// Medical VDM's latent diffusion (DESIGN §3.2): a VDM score network on the
// latent grid of a ResNet autoencoder (autoencoder2d.ts), trained together
// with it (trainer/losses/latent-vdm.ts). Checkpoint kind `latent-vdm`: the
// score network, the decoder that turns sampled latents into images, and
// the encoder (held-out bits per dimension need it).
//
// Config: the score network's fields at the top level (channels = the
// latent channels), where every other checkpoint keeps them; plus
//   autoencoder: { channels, blocks, groups } (autoencoder2d.ts);
//   image:       { shape: [H, W], channels }: the image grid, whose sides
//                the autoencoder's down factor must divide.
// Parameters: `score.*`, `enc.*`, `dec.*` (and a learned schedule's
// `gamma.*`, which every VDM checkpoint keeps at the top level).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../config.ts';
import { AutoencoderConfigSchema, declareAutoencoder, decodeMean, downFactor, encode, type AutoencoderConfig } from './autoencoder2d.ts';
import { initParams, ParamList, paramsUnder } from './params.ts';
import type { Model, Params } from './types.ts';
import { inputProblem, type InputSpec } from './validate.ts';
import { vdmScore, type VdmScoreConfig } from './vdm-score.ts';

export const LATENT_VDM_KIND = 'latent-vdm';
export const SCORE_PREFIX = 'score.';

const side = z.number().int().min(1).max(4096);
const ImageSchema = z.strictObject({ shape: z.tuple([side, side]), channels: z.number().int().min(1).max(16).default(1) });

export type LatentVdmConfig = VdmScoreConfig & { autoencoder: AutoencoderConfig; image: z.infer<typeof ImageSchema> };

export interface LatentVdm extends Model<LatentVdmConfig> {
  /** Images x [B, H, W, C] in [-1, 1] -> latents f [B, h, w, c] in (-1, 1). */
  encode(params: Params, x: tf.Tensor4D): tf.Tensor4D;
}

export function latentVdm(raw: unknown = {}): LatentVdm {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('model', 'expected an object');
  const { autoencoder: rawAe, image: rawImage, ...rawScore } = raw as Record<string, unknown>;
  const score = vdmScore(rawScore);
  const ae = parseConfig(AutoencoderConfigSchema, rawAe ?? {}, 'model.autoencoder');
  const image = parseConfig(ImageSchema, rawImage, 'model.image');
  const k = downFactor(ae);
  if (image.shape.some((s) => s % k !== 0)) throw new ConfigError('model.image.shape', `[${image.shape}] must be a multiple of the autoencoder's down factor ${k} (2^(levels - 1))`);
  const latentShape = image.shape.map((s) => s / k);
  const input: InputSpec = { ...score.input, shape: latentShape };
  const problem = inputProblem(score.input, [...latentShape, score.config.channels]);
  if (problem) throw new ConfigError('model.image.shape', `its latent grid [${latentShape}] does not fit the score network: ${problem}`);
  const output: InputSpec = { spatialDims: 2, channels: image.channels, multipleOf: 1, shape: [...image.shape] };

  const specs = new ParamList();
  declareAutoencoder(specs, ae, image.channels, score.config.channels);
  const allSpecs = [...score.paramSpecs.map((s) => ({ ...s, name: SCORE_PREFIX + s.name })), ...specs.specs];
  const check = (what: string, t: tf.Tensor, spec: InputSpec, layout: string) => {
    const bad = t.rank !== 4 ? `expected ${layout}, got [${t.shape}]` : inputProblem(spec, t.shape.slice(1));
    if (bad) throw new Error(`${LATENT_VDM_KIND}: ${what}: ${bad}`);
  };
  return {
    kind: LATENT_VDM_KIND,
    config: { ...score.config, autoencoder: ae, image },
    paramSpecs: allSpecs,
    input,
    output,
    init: (seed) => initParams(allSpecs, seed),
    /** eps_hat on latents z_t [B, h, w, c]. */
    apply: (params, x, t, cond, pre) => score.apply(paramsUnder(params, SCORE_PREFIX), x, t, cond, pre),
    condition: (params, t, cond) => score.condition(paramsUnder(params, SCORE_PREFIX), t, cond),
    encode(params, x) {
      check('encode', x, output, '[B, H, W, C] images');
      return encode(params, ae, x);
    },
    /** The sampled latents (z_0 / alpha_0) are the decoder's input as they are: nothing to snap. */
    toCodes(_params, latents) {
      check('toCodes', latents, input, '[B, h, w, c] latents');
      return tf.clone(latents);
    },
    /** latents [B, h, w, c] -> images [B, H, W, C]: the decoder's mean. */
    decode(params, codes) {
      check('decode', codes, input, '[B, h, w, c] latents');
      return decodeMean(params, ae, codes as tf.Tensor4D);
    },
  };
}
