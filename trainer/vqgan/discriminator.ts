// PatchGAN discriminators (pix2pix NLayerDiscriminator, Isola et al. 2017, as
// TATS uses them with intermediate features): a 2D one on depth slices and a
// 3D one on whole volumes. Layers: conv(k4, s2) + LeakyReLU(0.2); then
// layers-1 x conv(k4, s2) + norm + LeakyReLU with the width doubling (capped
// at 512); conv(k4, s1) + norm + LeakyReLU; conv(k4, s1) to one logit per patch.
//
// Norm: GroupNorm, not pix2pix's BatchNorm. With batches of 1-2 volumes,
// batch statistics are noise, and they would differ between the separate
// real and fake passes (each pass normalised by its own batch), leaking
// "which batch is this" to the discriminator; BatchNorm's running averages
// would also be more training state. GroupNorm is per sample, identical in
// training and evaluation.
import * as tf from '@tensorflow/tfjs-core';
import { conv2d, groupNorm } from '../../shared/models/layers.ts';
import { conv3d, declareConv3d } from '../../shared/models/layers3d.ts';
import type { ParamList } from '../../shared/models/params.ts';
import type { Params } from '../../shared/models/types.ts';

export interface PatchGanConfig {
  /** Width of the first layer (pix2pix ndf; TATS 64). */
  channels: number;
  /** Strided layers (pix2pix n_layers; 3). */
  layers: number;
  /** GroupNorm groups; must divide every normalised width. */
  groups: number;
}

/** Output width of layer l (0..layers); the logit layer (layers + 1) has 1. */
export function patchGanWidth(c: PatchGanConfig, l: number): number {
  return l === 0 ? c.channels : Math.min(c.channels * 2 ** l, 512);
}

export function declarePatchGan(p: ParamList, name: string, dims: 2 | 3, inChannels: number, c: PatchGanConfig): void {
  const conv = (n: string, cin: number, cout: number) => (dims === 2 ? p.conv(n, 4, cin, cout) : declareConv3d(p, n, [4, 4, 4], cin, cout));
  for (let l = 0; l <= c.layers; l++) {
    const cin = l === 0 ? inChannels : patchGanWidth(c, l - 1);
    conv(`${name}.${l}.conv`, cin, patchGanWidth(c, l));
    if (l > 0) p.norm(`${name}.${l}.norm`, patchGanWidth(c, l));
  }
  conv(`${name}.${c.layers + 1}.conv`, patchGanWidth(c, c.layers), 1);
}

/**
 * x [B, H, W, C] (dims 2) or [B, D, H, W, C] (dims 3) -> per-patch logits
 * and the layers+1 intermediate feature maps (for feature matching). The
 * caller owns all returned tensors.
 */
export function patchGan(params: Params, name: string, dims: 2 | 3, x: tf.Tensor, c: PatchGanConfig): { logits: tf.Tensor; features: tf.Tensor[] } {
  const conv = (n: string, h: tf.Tensor, stride: 1 | 2) =>
    dims === 2 ? conv2d(params, n, h as tf.Tensor4D, stride) : conv3d(params, n, h as tf.Tensor5D, [stride, stride, stride]);
  const features: tf.Tensor[] = [];
  let h = x;
  for (let l = 0; l <= c.layers; l++) {
    const input = h;
    h = tf.tidy(() => {
      const y = conv(`${name}.${l}.conv`, input, l < c.layers ? 2 : 1);
      return tf.leakyRelu(l === 0 ? y : groupNorm(params, `${name}.${l}.norm`, y, c.groups), 0.2);
    });
    features.push(h);
  }
  return { logits: tf.tidy(() => conv(`${name}.${c.layers + 1}.conv`, h, 1)), features };
}
