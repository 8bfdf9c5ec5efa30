// The analytic FLOP counter: a tiny U-Net counted by hand, and every kind
// against the FLOPs of the conv/matmul kernels one call actually runs
// (read from tf.profile's kernel shapes).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { countFlops } from '../../bench/sampling/flops.ts';
import { createModel } from '../../shared/models/index.ts';
import { useBackend } from '../backends.ts';

beforeAll(() => useBackend('cpu'));

describe('countFlops', () => {
  it('counts a one-level UNet2D by hand', () => {
    // 4 channels, one level of 4 x 4, one ResBlock, middle attention with 1 head; batch 2.
    const model = createModel('ddpm-unet2d', { baseChannels: 4, channelMult: [1], numResBlocks: 1, attentionLevels: [], heads: 1, groups: 2 });
    const conv = (k: number, cin: number, cout: number) => 2 * k * k * cin * cout * 2 * 16; // batch 2, 16 positions
    const convolution =
      conv(3, 1, 4) + // in
      2 * conv(3, 4, 4) + // down.0.res.0
      4 * conv(3, 4, 4) + // mid.res.0, mid.res.1
      2 * (conv(3, 8, 4) + conv(3, 4, 4) + conv(1, 8, 4)) + // up.0.res.0/1 on [h, skip]: 8 channels in, a 1x1 skip conv
      conv(3, 4, 1); // out.conv
    const embed = 16; // 4 x baseChannels
    const dense =
      2 * 2 * (4 * embed + embed * embed) + // cond.dense0, cond.dense1, once per sample
      5 * 2 * 2 * embed * 8 + // FiLM of 5 ResBlocks: scale and shift for 4 channels
      2 * 32 * 4 * 12 + // mid.attn.qkv over 2 x 16 tokens
      2 * 32 * 4 * 4; // mid.attn.proj
    const attention = 2 * 2 * 2 * 16 * 16 * 4; // q k^T and weights x v: 2 sequences of 16 tokens, 4 channels
    expect(convolution).toBe(119296);
    expect(countFlops(model, [2, 4, 4, 1])).toEqual({ total: convolution + dense + attention, convolution, dense, attention });
  });

  it.each([
    ['ddpm-unet2d', { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, numClasses: 3, attentionLevels: [0, 1] }, [2, 8, 8, 1]],
    ['ddpm-unet3d', { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, depth: 3 }, [1, 3, 8, 8, 1]],
    ['vdm', { embeddingDim: 8, nLayers: 1, groups: 4, channelMult: [1, 2] }, [2, 8, 8, 1]],
  ])('%s: equals the FLOPs of the conv and matmul kernels one call runs', async (kind, config, shape) => {
    const model = createModel(kind, config);
    const params = model.init(1);
    const x = tf.zeros(shape);
    const t = tf.fill([shape[0]], 0.5) as tf.Tensor1D;
    const profile = await tf.profile(() => tf.dispose(model.apply(params, x, t)));
    let measured = 0;
    for (const k of profile.kernels) {
      const [a, b] = k.inputShapes;
      if (k.name === 'Conv2D' || k.name === 'FusedConv2D') {
        const [, kh, kw, cin, cout] = [0, ...b];
        measured += 2 * kh * kw * cin * cout * k.outputShapes[0].slice(0, 3).reduce((p, v) => p * v, 1);
      } else if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
        const batch = a.slice(0, -2).reduce((p, v) => p * v, 1);
        measured += 2 * batch * a[a.length - 2] * a[a.length - 1] * b[b.length - 1];
      }
    }
    expect(countFlops(model, shape).total).toBe(measured);
    tf.dispose([x, t, ...params.values()]);
  });

  it('names a kind it cannot count', () => {
    const model = { ...createModel('vdm', {}), kind: 'latent-ddpm-vqgan3d' };
    expect(() => countFlops(model, [1, 8, 8, 1])).toThrow(/unknown model kind "latent-ddpm-vqgan3d"/);
  });
});
