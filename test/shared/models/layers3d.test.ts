// The 3D ops built from conv2d, on every backend, against tfjs's own tf.conv3d
// (forward and both gradients) on the cpu backend, and upsampling and slicing
// against their definitions.
import '@tensorflow/tfjs'; // registers the gradients of the built-in ops
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { conv3d, declareResBlock3d, depthSlices, resBlock3d, upsample3d, type Triple } from '../../../shared/models/layers3d.ts';
import { initParams, ParamList } from '../../../shared/models/params.ts';
import { Rng } from '../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const normal = (shape: number[], seed: number) => tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)), shape);

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
}

/** [y, dL/dx, dL/dw, dL/db] for L = sum(conv(x, w) * r), r fixed noise. */
function convAndGrads(conv: (x: tf.Tensor5D, w: tf.Tensor5D, b: tf.Tensor1D) => tf.Tensor, xShape: number[], wShape: number[]): Float32Array[] {
  return tf.tidy(() => {
    const inputs = [normal(xShape, 1), normal(wShape, 2), normal([wShape[4]], 3)];
    const y = conv(...(inputs as [tf.Tensor5D, tf.Tensor5D, tf.Tensor1D]));
    const r = normal(y.shape, 4);
    const g = tf.grads((x, w, b) => tf.sum(tf.mul(conv(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D), r)))(inputs);
    return [y, ...g].map((t) => t.dataSync() as Float32Array);
  });
}

describe.each(TEST_BACKENDS)('layers3d on %s', (backend) => {
  // [kernel, stride, [D, H, W]]: every kernel and stride the VQ-GAN uses, odd
  // sizes for asymmetric 'same' padding, and unequal per-axis strides.
  it.each<[Triple, Triple, Triple]>([
    [[3, 3, 3], [1, 1, 1], [5, 6, 7]],
    [[4, 4, 4], [2, 2, 2], [6, 8, 4]],
    [[4, 4, 4], [2, 2, 2], [5, 7, 3]],
    [[4, 4, 4], [1, 1, 1], [4, 5, 6]],
    [[3, 3, 3], [2, 2, 2], [5, 6, 7]],
    [[4, 4, 4], [1, 2, 2], [4, 8, 6]],
    [[4, 4, 4], [2, 1, 2], [4, 6, 6]],
    [[4, 4, 4], [2, 2, 1], [4, 6, 5]],
    [[1, 1, 1], [1, 1, 1], [3, 4, 5]],
  ])('conv3d k=%j stride=%j on %j: output and input/filter/bias gradients match tf.conv3d on cpu', async (k, stride, size) => {
    const xShape = [2, ...size, 3];
    const wShape = [...k, 3, 4];
    await useBackend('cpu');
    const ref = convAndGrads((x, w, b) => tf.add(tf.conv3d(x, w, stride, 'same'), b), xShape, wShape);
    await useBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const got = convAndGrads((x, w, b) => conv3d(new Map<string, tf.Tensor>([['c.w', w], ['c.b', b]]), 'c', x, stride), xShape, wShape);
    // float32 sums of <= 2*8*64*3 products of N(0, 1) values: ~1e-6 relative.
    ['y', 'dx', 'dw', 'db'].forEach((what, i) => expect(maxRelDiff(got[i], ref[i]), what).toBeLessThan(1e-4));
  });

  it.each<[Triple]>([[[2, 2, 2]], [[1, 2, 2]], [[2, 1, 2]], [[2, 2, 1]], [[1, 1, 1]]])(
    'upsample3d by %j repeats each voxel into its block; the gradient sums each block',
    async (f) => {
      await useBackend(backend);
      const [b, d, h, w, c] = [2, 2, 3, 2, 2];
      const x = normal([b, d, h, w, c], 5);
      const dy = normal([b, d * f[0], h * f[1], w * f[2], c], 6);
      const [y, g] = tf.tidy(() => [upsample3d(x as tf.Tensor5D, f), tf.grad((v) => tf.sum(tf.mul(upsample3d(v as tf.Tensor5D, f), dy)))(x)]);
      const ya = y.arraySync() as number[][][][][];
      const xa = x.arraySync() as number[][][][][];
      const dya = dy.arraySync() as number[][][][][];
      const want = new Float32Array(x.size);
      for (let n = 0; n < b; n++) for (let i = 0; i < d * f[0]; i++) for (let j = 0; j < h * f[1]; j++) for (let l = 0; l < w * f[2]; l++) {
        const [si, sj, sl] = [Math.floor(i / f[0]), Math.floor(j / f[1]), Math.floor(l / f[2])];
        for (let ch = 0; ch < c; ch++) {
          expect(ya[n][i][j][l][ch]).toBe(xa[n][si][sj][sl][ch]);
          want[(((n * d + si) * h + sj) * w + sl) * c + ch] += dya[n][i][j][l][ch];
        }
      }
      expect(maxRelDiff(g.dataSync() as Float32Array, want)).toBeLessThan(1e-6);
      tf.dispose([x, dy, y, g]);
    },
  );

  it('depthSlices takes slice index[b] of volume b; the gradient lands on that slice only', async () => {
    await useBackend(backend);
    const x = normal([3, 4, 2, 3, 1], 7);
    const index = [2, 0, 3];
    const dy = normal([3, 2, 3, 1], 8);
    const [y, g] = tf.tidy(() => [depthSlices(x as tf.Tensor5D, index), tf.grad((v) => tf.sum(tf.mul(depthSlices(v as tf.Tensor5D, index), dy)))(x)]);
    const xa = x.arraySync() as number[][][][][];
    expect(y.arraySync()).toEqual(index.map((i, n) => xa[n][i]));
    const ga = g.arraySync() as number[][][][][];
    const dya = dy.arraySync() as number[][][][];
    for (let n = 0; n < 3; n++) for (let i = 0; i < 4; i++) {
      expect(ga[n][i]).toEqual(i === index[n] ? dya[n] : dya[n].map((r) => r.map((p) => p.map(() => 0))));
    }
    expect(() => depthSlices(x as tf.Tensor5D, [0, 4, 1])).toThrow(/slice indices/);
    tf.dispose([x, dy, y, g]);
  });

  it('conv3d, upsample3d, depthSlices and resBlock3d free every intermediate (forward and gradient)', async () => {
    await useBackend(backend);
    const p = new ParamList();
    declareResBlock3d(p, 'r', 4, 8);
    const params = initParams(p.specs, 3);
    const x = normal([1, 4, 4, 4, 4], 9) as tf.Tensor5D;
    const before = tf.memory().numTensors;
    tf.dispose([
      conv3d(params, 'r.conv1', x, [2, 2, 1]),
      upsample3d(x, [2, 1, 2]),
      depthSlices(x, [1]),
      resBlock3d(params, 'r', x, 4),
      ...tf.grads((v, w) => tf.sum(resBlock3d(new Map([...params, ['r.conv1.w', w]]), 'r', upsample3d(v as tf.Tensor5D, [2, 2, 2]), 4)))([x, params.get('r.conv1.w')!]),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...params.values()]);
  });
});
