// The fused inference paths of layers.ts (GroupNorm with FiLM folded into one
// scale and shift, statistics by average pooling; conv2d with its bias in the
// kernel; attention from q/k/v weight blocks with rank-4 head transposes)
// against plain formulations of the same math, forward and gradients, on
// every backend; references run on the cpu backend with tfjs's own gradients.
import '@tensorflow/tfjs'; // registers the gradients of the built-in ops
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { attentionResidual, conv2d, conv2dParts, filmOf, groupNorm, groupNormParts, resBlock } from '../../../shared/models/layers.ts';
import { ParamList, initParams } from '../../../shared/models/params.ts';
import { Rng } from '../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const normal = (shape: number[], seed: number, scale = 1, shift = 0) =>
  tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)).map((v) => v * scale + shift), shape);

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
}

/** GroupNorm then FiLM as separate textbook ops: ((x - mean) / sqrt(var + eps) g + b) (1 + scale) + shift. */
function groupNormRef(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, groups: number, scale: tf.Tensor2D, shift: tf.Tensor2D): tf.Tensor {
  const [n, c] = [x.shape[0], x.shape[x.shape.length - 1]];
  const grouped = tf.reshape(x, [n, -1, groups, c / groups]);
  const mean = tf.mean(grouped, [1, 3], true);
  const centered = tf.sub(grouped, mean);
  const variance = tf.mean(tf.square(centered), [1, 3], true);
  const normed = tf.add(tf.mul(tf.reshape(tf.div(centered, tf.sqrt(tf.add(variance, 1e-5))), [n, -1, c]), g), b);
  return tf.reshape(tf.add(tf.mul(normed, tf.reshape(tf.add(scale, 1), [n, 1, c])), tf.reshape(shift, [n, 1, c])), x.shape);
}

/** Multi-head attention with an optional [heads, L, L] bias, one head at a time with plain ops. */
function attentionRef(x: tf.Tensor3D, normed: tf.Tensor3D, w: tf.Tensor2D, b: tf.Tensor1D, pw: tf.Tensor2D, pb: tf.Tensor1D, heads: number, bias?: tf.Tensor3D): tf.Tensor3D {
  const [s, l, c] = x.shape;
  const d = c / heads;
  const qkv = tf.reshape(tf.add(tf.matMul(tf.reshape(normed, [s * l, c]), w), b), [s, l, 3 * c]);
  const outs = [];
  for (let h = 0; h < heads; h++) {
    const block = (i: number) => tf.slice(qkv, [0, 0, i * c + h * d], [s, l, d]);
    let scores = tf.div(tf.matMul(block(0), block(1), false, true), Math.sqrt(d)); // [S, L, L]
    if (bias) scores = tf.add(scores, tf.slice(bias, [h, 0, 0], [1, l, l]));
    outs.push(tf.matMul(tf.softmax(scores), block(2)));
  }
  const merged = tf.reshape(tf.concat(outs, 2), [s * l, c]);
  return tf.add(x, tf.reshape(tf.add(tf.matMul(merged, pw), pb), [s, l, c])) as tf.Tensor3D;
}

/** Values and gradients of sum(f(inputs) * r) for a fixed random r, on the current backend. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, make: () => tf.Tensor[]): Float32Array[] {
  return tf.tidy(() => {
    const inputs = make();
    const y = f(...inputs);
    const r = normal(y.shape, 99);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

async function compareAcrossBackends(ours: (...xs: tf.Tensor[]) => tf.Tensor, reference: (...xs: tf.Tensor[]) => tf.Tensor, make: () => tf.Tensor[], labels: string[], tol: number) {
  await useBackend('cpu');
  const want = valueAndGrads(reference, make);
  for (const backend of TEST_BACKENDS) {
    await useBackend(backend);
    const got = valueAndGrads(ours, make);
    labels.forEach((label, i) => expect(maxRelDiff(got[i], want[i]), `${backend} ${label}`).toBeLessThan(tol));
  }
}

describe('fused layers', () => {
  it.each([
    // [B, D*H, W, C] as resBlock passes volumes; a large mean relative to the spread stresses the statistics.
    ['a small input (statistics on the grouped view)', [2, 6, 5, 8]],
    ['a large input (pooled per-channel statistics)', [2, 64, 32, 8]],
  ])('groupNorm with FiLM matches the textbook ops, values and gradients, on %s', async (_label, shape) => {
    const make = () => [normal(shape as number[], 1, 3, 7), normal([8], 2), normal([8], 3), normal([2, 8], 4, 0.3), normal([2, 8], 5)];
    await compareAcrossBackends(
      (x, g, b, scale, shift) => {
        const params = new Map([['n.g', g], ['n.b', b]]);
        return groupNorm(params, 'n', x, 4, 1e-5, { scale: scale as tf.Tensor2D, shift: shift as tf.Tensor2D });
      },
      (x, g, b, scale, shift) => groupNormRef(x, g, b, 4, scale as tf.Tensor2D, shift as tf.Tensor2D),
      make,
      ['value', 'dx', 'dg', 'db', 'dscale', 'dshift'],
      // float32 means over 60 values and sums of as many products: ~1e-6 relative.
      1e-5,
    );
  });

  it('conv2d adds its bias inside the kernel and sends it the sum of the output gradient', async () => {
    const make = () => [normal([2, 6, 7, 3], 1), normal([3, 3, 3, 4], 2), normal([4], 3)];
    for (const stride of [1, 2] as const) {
      await compareAcrossBackends(
        (x, w, b) => conv2d(new Map([['c.w', w], ['c.b', b]]), 'c', x as tf.Tensor4D, stride),
        (x, w, b) => tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same'), b),
        make,
        ['value', 'dx', 'dw', 'db'],
        1e-5,
      );
    }
  });

  it.each([
    // Group size 4: the split at 6 channels falls inside a group, so the statistics pool across the parts.
    ['a group straddling the parts', [6, 10], 4],
    ['parts on group boundaries', [8, 8], 4],
  ])('groupNormParts and conv2dParts (%s) equal groupNorm and conv2d of the concatenation, values and gradients', async (_label, widths, groups) => {
    const [c1, c2] = widths as number[];
    const c = c1 + c2;
    const make = () => [normal([2, 5, 4, c1], 1, 2, 3), normal([2, 5, 4, c2], 2), normal([c], 3), normal([c], 4), normal([3, 3, c, 5], 5), normal([5], 6)];
    await compareAcrossBackends(
      (a, b, g, beta, w, bias) => {
        const params = new Map([['n.g', g], ['n.b', beta], ['c.w', w], ['c.b', bias]]);
        const normed = groupNormParts(params, 'n', [a, b], groups as number) as tf.Tensor4D[];
        return conv2dParts(params, 'c', normed);
      },
      (a, b, g, beta, w, bias) => {
        const params = new Map([['n.g', g], ['n.b', beta], ['c.w', w], ['c.b', bias]]);
        return conv2d(params, 'c', groupNorm(params, 'n', tf.concat([a, b], 3), groups as number) as tf.Tensor4D);
      },
      make,
      ['value', 'da', 'db', 'dg', 'dbeta', 'dw', 'dbias'],
      1e-5,
    );
  });

  it.each([
    ['with a 1x1 skip convolution', 4, 6],
    ['with an identity skip (the parts are joined)', 4, 8],
  ])('resBlock on two channel parts (%s) equals resBlock on their concatenation', async (_label, c2, cout) => {
    const c1 = 4;
    const specs = new ParamList();
    specs.norm('r.norm1', c1 + c2);
    specs.conv('r.conv1', 3, c1 + c2, cout);
    specs.dense('r.film', 8, 2 * cout);
    specs.norm('r.norm2', cout);
    specs.conv('r.conv2', 3, cout, cout);
    if (c1 + c2 !== cout) specs.conv('r.skip', 1, c1 + c2, cout);
    for (const backend of TEST_BACKENDS) {
      await useBackend(backend);
      const params = initParams(specs.specs, 1);
      const [a, b, emb] = [normal([2, 4, 4, c1], 2), normal([2, 4, 4, c2], 3), normal([1, 8], 4)];
      const before = tf.memory().numTensors;
      const film = filmOf(params, 'r', emb as tf.Tensor2D);
      const got = resBlock(params, 'r', [a as tf.Tensor4D, b as tf.Tensor4D], film, 2, 2);
      expect(tf.memory().numTensors).toBe(before + 3);
      const want = tf.tidy(() => resBlock(params, 'r', tf.concat([a, b], 3) as tf.Tensor4D, film, 2, 2));
      expect(maxRelDiff(got.dataSync() as Float32Array, want.dataSync() as Float32Array), backend).toBeLessThan(1e-5);
      tf.dispose([got, want, a, b, emb, film.scale, film.shift, ...params.values()]);
    }
  });

  it.each([
    ['2 heads, batched', 3, 6, 8, 2, false],
    ['2 heads, one matMul per sequence', 2, 256, 4, 2, false],
    ['1 head', 2, 5, 4, 1, false],
    ['2 heads with a position bias', 4, 3, 8, 2, true],
  ])('attentionResidual (%s) matches one head at a time with plain ops, values and gradients', async (_label, s, l, c, heads, withBias) => {
    const make = () => [
      normal([s, l, c], 1),
      normal([s, l, c], 2),
      normal([c, 3 * c], 3, 0.5),
      normal([3 * c], 4),
      normal([c, c], 5, 0.5),
      normal([c], 6),
      ...(withBias ? [normal([heads, l, l], 7)] : []),
    ];
    await compareAcrossBackends(
      (x, normed, w, b, pw, pb, bias) => {
        const params = new Map([['a.qkv.w', w], ['a.qkv.b', b], ['a.proj.w', pw], ['a.proj.b', pb]]);
        return attentionResidual(params, 'a', x as tf.Tensor3D, normed as tf.Tensor3D, heads, bias as tf.Tensor3D | undefined);
      },
      (x, normed, w, b, pw, pb, bias) =>
        attentionRef(x as tf.Tensor3D, normed as tf.Tensor3D, w as tf.Tensor2D, b as tf.Tensor1D, pw as tf.Tensor2D, pb as tf.Tensor1D, heads, bias as tf.Tensor3D | undefined),
      make,
      ['value', 'dx', 'dnormed', 'dWqkv', 'dbqkv', 'dWproj', 'dbproj', ...(withBias ? ['dbias'] : [])],
      1e-5,
    );
  });

  it.each([
    // Over 2^22 scores in one block: 40 sequences x 2 heads of 240 tokens, and one sequence of 2100 tokens.
    ['batched, in chunks of sequences', 40, 240, 4, 2],
    ['one sequence, in blocks of query rows', 1, 2100, 2, 1],
  ])('attentionResidual (%s) matches the unblocked attention', async (_label, s, l, c, heads) => {
    const make = () => [normal([s, l, c], 1), normal([s, l, c], 2), normal([c, 3 * c], 3, 0.5), normal([3 * c], 4), normal([c, c], 5, 0.5), normal([c], 6)];
    await useBackend('cpu');
    const want = tf.tidy(() => {
      const [x, normed, w, b, pw, pb] = make();
      return attentionRef(x as tf.Tensor3D, normed as tf.Tensor3D, w as tf.Tensor2D, b as tf.Tensor1D, pw as tf.Tensor2D, pb as tf.Tensor1D, heads).dataSync() as Float32Array;
    });
    for (const backend of TEST_BACKENDS) {
      await useBackend(backend);
      const got = tf.tidy(() => {
        const [x, normed, w, b, pw, pb] = make();
        const params = new Map([['a.qkv.w', w], ['a.qkv.b', b], ['a.proj.w', pw], ['a.proj.b', pb]]);
        return attentionResidual(params, 'a', x as tf.Tensor3D, normed as tf.Tensor3D, heads).dataSync() as Float32Array;
      });
      expect(maxRelDiff(got, want), backend).toBeLessThan(1e-5);
    }
  });

  it.each(TEST_BACKENDS)('frees every intermediate in the caller\'s tidy on %s', async (backend) => {
    await useBackend(backend);
    const params = new Map([
      ['n.g', normal([8], 1)],
      ['n.b', normal([8], 2)],
      ['a.qkv.w', normal([8, 24], 3)],
      ['a.qkv.b', normal([24], 4)],
      ['a.proj.w', normal([8, 8], 5)],
      ['a.proj.b', normal([8], 6)],
      ['c.w', normal([3, 3, 8, 8], 7)],
      ['c.b', normal([8], 8)],
    ]);
    const x = normal([2, 4, 4, 8], 9);
    const film = { scale: normal([2, 8], 10) as tf.Tensor2D, shift: normal([2, 8], 11) as tf.Tensor2D };
    const before = tf.memory().numTensors;
    // Layers leave their intermediates to the caller's tidy (layers.ts); nothing may escape it.
    tf.dispose(tf.tidy(() => groupNorm(params, 'n', x, 4, 1e-5, film)));
    tf.dispose(tf.tidy(() => conv2d(params, 'c', x as tf.Tensor4D)));
    tf.dispose(tf.tidy(() => attentionResidual(params, 'a', tf.reshape(x, [2, 16, 8]) as tf.Tensor3D, tf.reshape(x, [2, 16, 8]) as tf.Tensor3D, 2)));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, film.scale, film.shift, ...params.values()]);
  });
});
