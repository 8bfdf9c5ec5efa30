// The VDM score network (Kingma et al. 2021, appendix; google-research/vdm
// ScoreUNet): a U-Net without downsampling, n_layer ResBlocks down and
// n_layer + 1 up with skips, a ResBlock-attention-ResBlock middle, optional
// Fourier features of the input (Base2FourierFeatures), conditioned on the
// normalised gamma_t through a sinusoidal embedding and two swish dense
// layers, applied FiLM-style (per-channel scale and shift, as DESIGN §3.2
// asks, where vdm adds a bias). It predicts eps_hat(z_t, gamma_t).
//
// The network time t it receives is (gamma_t - gamma_min) / (gamma_max -
// gamma_min), set by the schedule's networkTime().
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { parseConfig } from '../config.ts';
import { conditioning, declareConditioning } from './layers.ts';
import { initParams, ParamList } from './params.ts';
import type { Model } from './types.ts';
import { applyUNet, declareUNet, checkUNet, embedDim, unetConditioning, withConditioning, type UNetShape } from './unet.ts';
import { spatialAttention2d } from './unet2d.ts';
import { checkInput, type InputSpec } from './validate.ts';

const positiveInt = (max: number) => z.number().int().min(1).max(max);

export const VdmScoreConfigSchema = z
  .strictObject({
    channels: positiveInt(16).default(1),
    /** n_embd: channels of every block (vdm's default is 128; 32 suits CPU training). */
    embeddingDim: positiveInt(1024).default(32),
    /** n_layer: ResBlocks on the way down (n_layer + 1 up). */
    nLayers: positiveInt(32).default(4),
    /**
     * Channel multiplier per level. vdm keeps full resolution ([1], the
     * default); more levels halve the resolution each, so the middle
     * attention spans (H / 2^(levels-1))^2 tokens instead of H^2 (CPU-sized).
     */
    channelMult: z.array(positiveInt(16)).min(1).max(6).default([1]),
    heads: positiveInt(64).default(1),
    groups: positiveInt(128).default(8),
    /** Fourier features sin/cos(2^n 2 pi z) for n in [fourierMin, fourierMax) (vdm: 6, 8); equal = none. */
    fourierMin: z.number().int().min(0).max(16).default(6),
    fourierMax: z.number().int().min(0).max(16).default(8),
    numClasses: z.number().int().min(0).max(10_000).default(0),
    prediction: z.literal('eps').default('eps'),
  })
  .superRefine((c, ctx) => {
    if (c.fourierMax < c.fourierMin) ctx.addIssue({ code: 'custom', path: ['fourierMax'], message: 'must be >= fourierMin' });
    checkUNet(shapeOf(c), ctx);
  });
export type VdmScoreConfig = z.infer<typeof VdmScoreConfigSchema>;

/** The score network as a U-Net with attention only in the middle. */
function shapeOf(c: { embeddingDim: number; nLayers: number; channelMult: number[]; heads: number; groups: number; numClasses: number }): UNetShape {
  return { baseChannels: c.embeddingDim, channelMult: c.channelMult, numResBlocks: c.nLayers, attentionLevels: [], heads: c.heads, groups: c.groups, numClasses: c.numClasses };
}

/** z [B, H, W, C] -> [z, sin(w_n z), cos(w_n z)] on channels, w_n = 2^n 2 pi. */
function fourierFeatures(z: tf.Tensor4D, nMin: number, nMax: number): tf.Tensor4D {
  if (nMax === nMin) return tf.clone(z);
  const feats: tf.Tensor[] = [z];
  for (let n = nMin; n < nMax; n++) {
    const wz = tf.mul(z, 2 ** n * 2 * Math.PI);
    feats.push(tf.sin(wz), tf.cos(wz));
  }
  return tf.concat(feats, 3) as tf.Tensor4D;
}

export function vdmScore(raw: unknown = {}): Model<VdmScoreConfig> {
  const config = parseConfig(VdmScoreConfigSchema, raw, 'model');
  const shape = shapeOf(config);
  const inChannels = config.channels * (1 + 2 * (config.fourierMax - config.fourierMin));
  const specs = new ParamList();
  declareConditioning(specs, 'cond', config.embeddingDim, embedDim(shape), config.numClasses);
  declareUNet(specs, shape, inChannels, config.channels);
  const input: InputSpec = { spatialDims: 2, channels: config.channels, multipleOf: 2 ** (config.channelMult.length - 1) };
  const condition: Model<unknown>['condition'] = (params, t, cond) =>
    unetConditioning(params, shape, () => conditioning(params, 'cond', t, config.embeddingDim, config.numClasses, cond?.label));
  return {
    kind: 'vdm',
    config,
    paramSpecs: specs.specs,
    input,
    init: (seed) => initParams(specs.specs, seed),
    condition,
    apply(params, x, t, cond, pre) {
      checkInput('vdm', input, x, t);
      const features = tf.tidy(() => fourierFeatures(x as tf.Tensor4D, config.fourierMin, config.fourierMax));
      try {
        return withConditioning(pre, () => condition(params, t, cond), (films) =>
          applyUNet(params, shape, features, films, 1, (name, h) => spatialAttention2d(params, name, h, config.heads, config.groups)),
        );
      } finally {
        features.dispose();
      }
    },
  };
}
