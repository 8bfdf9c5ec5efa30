// The VQ-GAN encoder (TATS / Medical Diffusion `Encoder` + `pre_vq_conv`):
// 3x3x3 conv to nHiddens; per level a kernel-4 conv strided by 2 on the axes
// still to downsample, doubling the channels, then a ResBlock; GroupNorm and
// SiLU; a 1x1x1 projection to the codebook width.
import * as tf from '@tensorflow/tfjs-core';
import { groupNorm, silu } from '../layers.ts';
import { conv3d, declareConv3d, declareResBlock3d, resBlock3d } from '../layers3d.ts';
import type { ParamList } from '../params.ts';
import type { Params } from '../types.ts';
import { levelStrides, type Vqgan3dConfig } from './config.ts';

export const NORM_EPS = 1e-6; // Medical Diffusion's GroupNorm eps

export function declareEncoder(p: ParamList, c: Vqgan3dConfig): void {
  const levels = levelStrides(c.downsample).length;
  declareConv3d(p, 'enc.conv_in', [3, 3, 3], c.channels, c.nHiddens);
  for (let l = 0; l < levels; l++) {
    const cout = c.nHiddens * 2 ** (l + 1);
    declareConv3d(p, `enc.down.${l}.conv`, [4, 4, 4], cout / 2, cout);
    declareResBlock3d(p, `enc.down.${l}.res`, cout, cout);
  }
  p.norm('enc.norm_out', c.nHiddens * 2 ** levels);
  declareConv3d(p, 'pre_vq', [1, 1, 1], c.nHiddens * 2 ** levels, c.embeddingDim);
}

/** x [B, D, H, W, C] -> z [B, D/fd, H/fh, W/fw, embeddingDim], unquantised. */
export function encode(params: Params, c: Vqgan3dConfig, x: tf.Tensor5D): tf.Tensor5D {
  let h = conv3d(params, 'enc.conv_in', x);
  levelStrides(c.downsample).forEach((stride, l) => {
    const prev = h;
    h = tf.tidy(() => resBlock3d(params, `enc.down.${l}.res`, conv3d(params, `enc.down.${l}.conv`, prev, stride), c.groups, NORM_EPS));
    prev.dispose();
  });
  const out = tf.tidy(() => conv3d(params, 'pre_vq', silu(groupNorm(params, 'enc.norm_out', h, c.groups, NORM_EPS)) as tf.Tensor5D));
  h.dispose();
  return out;
}
