// UNet2D: the DDPM denoiser for 2D images (Ho et al. 2020; Dhariwal and
// Nichol 2021): ResBlocks with GroupNorm, SiLU and time scale-shift,
// self-attention at configured levels, an optional class embedding with a
// null label for classifier-free guidance.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseConfig } from '../config.ts';
import { PREDICTIONS } from '../schedules/prediction.ts';
import { attentionResidual, conditioning, declareConditioning, groupNorm } from './layers.ts';
import { initParams, ParamList } from './params.ts';
import type { Model } from './types.ts';
import { applyUNet, declareUNet, embedDim, UNetFields, checkUNet, unetConditioning, withConditioning } from './unet.ts';
import { checkInput, type InputSpec } from './validate.ts';

export const UNet2DConfigSchema = z
  .strictObject({ ...UNetFields, prediction: z.enum(PREDICTIONS).default('eps') })
  .superRefine(checkUNet)
  // Default: attention at the lowest resolution only (cheap, and where global context matters most).
  .transform((c) => ({ ...c, attentionLevels: c.attentionLevels ?? [c.channelMult.length - 1] }));
export type UNet2DConfig = z.infer<typeof UNet2DConfigSchema>;

/** Self-attention over the H*W positions of each image. h [B, H, W, C]. */
export function spatialAttention2d(params: Map<string, tf.Tensor>, name: string, h: tf.Tensor4D, heads: number, groups: number): tf.Tensor4D {
  const [b, hgt, wid, c] = h.shape;
  const tokens = tf.reshape(h, [b, hgt * wid, c]) as tf.Tensor3D; // [B, HW, C]
  const normed = groupNorm(params, `${name}.norm`, tokens, groups) as tf.Tensor3D;
  return tf.reshape(attentionResidual(params, name, tokens, normed, heads), h.shape);
}

export function unet2d(raw: unknown = {}): Model<UNet2DConfig> {
  const config = parseConfig(UNet2DConfigSchema, raw, 'model');
  const specs = new ParamList();
  declareConditioning(specs, 'cond', config.baseChannels, embedDim(config), config.numClasses);
  declareUNet(specs, config, config.channels, config.channels);
  const input: InputSpec = { spatialDims: 2, channels: config.channels, multipleOf: 2 ** (config.channelMult.length - 1) };
  const condition: Model<unknown>['condition'] = (params, t, cond) =>
    unetConditioning(params, config, () => conditioning(params, 'cond', t, config.baseChannels, config.numClasses, cond?.label));
  return {
    kind: 'ddpm-unet2d',
    config,
    paramSpecs: specs.specs,
    input,
    init: (seed) => initParams(specs.specs, seed),
    condition,
    apply(params, x, t, cond, pre) {
      checkInput('ddpm-unet2d', input, x, t);
      return withConditioning(pre, () => condition(params, t, cond), (films) =>
        applyUNet(params, config, x as tf.Tensor4D, films, 1, (name, h) => spatialAttention2d(params, name, h, config.heads, config.groups)),
      );
    },
  };
}
