// UNet3D after Medical Diffusion (Khader et al. 2022, §3.2, following video
// diffusion's space-time factorised U-Net, Ho et al. 2022): per level
// ResBlocks of 3x3x1 convolutions, then spatial attention (tokens: the H*W
// positions of one depth slice), then depth attention (tokens: the D slices
// at one (h, w) position, with a learned relative-position bias so depth
// order is known: 3x3x1 convolutions never mix slices). It downsamples H and
// W only; depth stays at `depth` throughout.
//
// Volumes run with depth folded into the batch, [B*D, H, W, C], so every
// convolution is a conv2d (tf.conv3d is ~50x slower on wasm, DESIGN §5).
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseConfig } from '../config.ts';
import { PREDICTIONS } from '../schedules/prediction.ts';
import { attentionResidual, conditioning, declareAttention, declareConditioning, groupNorm, lookup } from './layers.ts';
import { initParams, param, ParamList } from './params.ts';
import type { Model, Params } from './types.ts';
import { applyUNet, declareUNet, embedDim, UNetFields, checkUNet, unetConditioning, withConditioning } from './unet.ts';
import { checkInput, type InputSpec } from './validate.ts';

export const UNet3DConfigSchema = z
  .strictObject({
    ...UNetFields,
    /** Slices per volume; fixed, since the depth position bias has one entry per offset. */
    depth: z.number().int().min(1).max(1024).default(16),
    prediction: z.enum(PREDICTIONS).default('eps'),
  })
  .superRefine(checkUNet)
  // Default: spatial and depth attention at every level, as in Medical Diffusion.
  .transform((c) => ({ ...c, attentionLevels: c.attentionLevels ?? c.channelMult.map((_, l) => l) }));
export type UNet3DConfig = z.infer<typeof UNet3DConfigSchema>;

/** Every attention site holds a spatial and a depth block. */
function declareFactorisedAttention(depth: number, heads: number) {
  return (p: ParamList, name: string, c: number) => {
    declareAttention(p, `${name}.spatial`, c);
    declareAttention(p, `${name}.depth`, c);
    p.add(`${name}.depth.relpos`, [heads, 2 * depth - 1], 'zeros');
  };
}

/** The relative-position bias [heads, D, D]: entry (i, j) = table[:, j - i + D - 1]. */
function relativeBias(table: tf.Tensor, depth: number): tf.Tensor3D {
  const index = Int32Array.from({ length: depth * depth }, (_, k) => (k % depth) - Math.floor(k / depth) + depth - 1);
  const rows = lookup(tf.transpose(table) as tf.Tensor2D, tf.tensor1d(index, 'int32')); // [D*D, heads]
  return tf.reshape(tf.transpose(rows), [-1, depth, depth]);
}

/** h [B*D, H, W, C] -> spatial then depth attention, same shape. */
function factorisedAttention(params: Params, c: UNet3DConfig, name: string, h: tf.Tensor4D): tf.Tensor4D {
  const [n, hgt, wid, ch] = h.shape;
  const d = c.depth;
  const b = n / d;
  const hw = hgt * wid;
  // GroupNorm statistics run over the whole volume of each sample.
  const normVolume = (blockName: string, x: tf.Tensor) => groupNorm(params, `${blockName}.norm`, tf.reshape(x, [b, d * hw, ch]), c.groups);

  // Spatial: B*D sequences of H*W tokens.
  const sTokens = tf.reshape(h, [n, hw, ch]) as tf.Tensor3D;
  const sNormed = tf.reshape(normVolume(`${name}.spatial`, h), [n, hw, ch]) as tf.Tensor3D;
  const afterSpatial = attentionResidual(params, `${name}.spatial`, sTokens, sNormed, c.heads); // [B*D, HW, C]

  // Depth: B*H*W sequences of D tokens. [B, D, HW, C] -> [B, HW, D, C].
  const toDepth = (x: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(x, [b, d, hw, ch]), [0, 2, 1, 3]), [b * hw, d, ch]) as tf.Tensor3D;
  const dTokens = toDepth(afterSpatial);
  const dNormed = toDepth(normVolume(`${name}.depth`, afterSpatial));
  const bias = relativeBias(param(params, `${name}.depth.relpos`), d);
  const afterDepth = attentionResidual(params, `${name}.depth`, dTokens, dNormed, c.heads, bias); // [B*HW, D, C]
  // [B, HW, D, C] -> [B, D, HW, C] -> [B*D, H, W, C]
  return tf.reshape(tf.transpose(tf.reshape(afterDepth, [b, hw, d, ch]), [0, 2, 1, 3]), [n, hgt, wid, ch]);
}

export function unet3d(raw: unknown = {}): Model<UNet3DConfig> {
  const config = parseConfig(UNet3DConfigSchema, raw, 'model');
  const specs = new ParamList();
  declareConditioning(specs, 'cond', config.baseChannels, embedDim(config), config.numClasses);
  declareUNet(specs, config, config.channels, config.channels, declareFactorisedAttention(config.depth, config.heads));
  const input: InputSpec = { spatialDims: 3, channels: config.channels, multipleOf: 2 ** (config.channelMult.length - 1), depth: config.depth };
  const condition: Model<unknown>['condition'] = (params, t, cond) =>
    unetConditioning(params, config, () => conditioning(params, 'cond', t, config.baseChannels, config.numClasses, cond?.label));
  return {
    kind: 'ddpm-unet3d',
    config,
    paramSpecs: specs.specs,
    input,
    init: (seed) => initParams(specs.specs, seed),
    condition,
    apply(params, x, t, cond, pre) {
      checkInput('ddpm-unet3d', input, x, t);
      const [b, d, hgt, wid, ch] = x.shape;
      const folded = tf.reshape(x, [b * d, hgt, wid, ch]) as tf.Tensor4D;
      try {
        const out = withConditioning(pre, () => condition(params, t, cond), (films) =>
          applyUNet(params, config, folded, films, d, (name, h) => factorisedAttention(params, config, name, h)),
        );
        const volume = tf.reshape(out, x.shape); // [B, D, H, W, C]
        out.dispose();
        return volume;
      } finally {
        folded.dispose();
      }
    },
  };
}
