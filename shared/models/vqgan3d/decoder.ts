// The VQ-GAN decoder (TATS / Medical Diffusion `post_vq_conv` + `Decoder`),
// mirroring the encoder level by level: 1x1x1 projection from the codebook
// width; GroupNorm, SiLU; per level nearest-neighbour upsampling on the axes
// the matching encoder level strided, a 3x3x3 conv halving the channels, two
// ResBlocks; a final 3x3x3 conv to the image channels.
//
// TATS upsamples with a kernel-4 transposed conv; here it is nearest
// upsampling + conv, because wasm's conv3dTranspose forward is silently
// wrong (DESIGN §5), and it avoids checkerboard artefacts (Odena et al. 2016).
//
// The output is linear (no tanh), as in TATS: data in [-1, 1] has large
// regions at exactly -1 (background), which tanh reaches only at infinite
// pre-activation, so the L1 gradient there would vanish; consumers clip.
import * as tf from '@tensorflow/tfjs-core';
import { groupNorm, silu } from '../layers.ts';
import { conv3d, declareConv3d, declareResBlock3d, resBlock3d, upsample3d } from '../layers3d.ts';
import type { ParamList } from '../params.ts';
import type { Params } from '../types.ts';
import { levelStrides, type Vqgan3dConfig } from './config.ts';
import { NORM_EPS } from './encoder.ts';

export function declareDecoder(p: ParamList, c: Vqgan3dConfig): void {
  const levels = levelStrides(c.downsample).length;
  const top = c.nHiddens * 2 ** levels;
  declareConv3d(p, 'post_vq', [1, 1, 1], c.embeddingDim, top);
  p.norm('dec.norm_in', top);
  for (let i = 0; i < levels; i++) {
    const cin = c.nHiddens * 2 ** (levels - i + (i === 0 ? 0 : 1));
    const cout = c.nHiddens * 2 ** (levels - i);
    declareConv3d(p, `dec.up.${i}.conv`, [3, 3, 3], cin, cout);
    declareResBlock3d(p, `dec.up.${i}.res1`, cout, cout);
    declareResBlock3d(p, `dec.up.${i}.res2`, cout, cout);
  }
  declareConv3d(p, 'dec.conv_out', [3, 3, 3], 2 * c.nHiddens, c.channels);
}

/** zq [B, d, h, w, embeddingDim] -> x [B, d*fd, h*fh, w*fw, C]. */
export function decode(params: Params, c: Vqgan3dConfig, zq: tf.Tensor5D): tf.Tensor5D {
  let h = tf.tidy(() => silu(groupNorm(params, 'dec.norm_in', conv3d(params, 'post_vq', zq), c.groups, NORM_EPS)) as tf.Tensor5D);
  // Decoder level i undoes encoder level L-1-i.
  levelStrides(c.downsample).reverse().forEach((factors, i) => {
    const prev = h;
    h = tf.tidy(() => {
      const up = conv3d(params, `dec.up.${i}.conv`, upsample3d(prev, factors));
      return resBlock3d(params, `dec.up.${i}.res2`, resBlock3d(params, `dec.up.${i}.res1`, up, c.groups, NORM_EPS), c.groups, NORM_EPS);
    });
    prev.dispose();
  });
  const out = conv3d(params, 'dec.conv_out', h);
  h.dispose();
  return out;
}
