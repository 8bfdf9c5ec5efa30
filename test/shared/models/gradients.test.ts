// Gradients through the layers the trainer differentiates, on every backend,
// against references computed by tfjs's own kernels on the cpu backend
// (wasm lacks Conv2DBackpropFilter and UnsortedSegmentSum, and tfjs has no
// rank-6 tile gradient: layers.ts supplies those gradients itself).
import '@tensorflow/tfjs'; // registers the gradients of the built-in ops
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { conv2d, lookup, upsample2x } from '../../../shared/models/layers.ts';
import { createModel } from '../../../shared/models/index.ts';
import { Rng } from '../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';
import { perturbParams } from '../../helpers/tiny-models.ts';

const normal = (shape: number[], seed: number) => tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)), shape);

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
}

/** Runs f on the cpu backend (reference) and on each test backend; returns [reference, ...per backend]. */
async function onEachBackend(f: () => Float32Array[]): Promise<{ backend: string; out: Float32Array[] }[]> {
  const results = [];
  for (const backend of TEST_BACKENDS) {
    await useBackend(backend);
    results.push({ backend, out: f() });
  }
  return results;
}

describe('gradients', () => {
  // [kernel, stride, height, width]: odd and even sizes exercise asymmetric 'same' padding.
  it.each([
    [3, 1, 7, 6],
    [3, 2, 8, 8],
    [3, 2, 7, 9],
    [4, 2, 8, 6],
    [1, 1, 5, 5],
    [1, 2, 6, 6],
  ])('conv2d k=%i stride=%i on %ix%i: input and filter gradients match tf.conv2d on cpu', async (k, stride, h, w) => {
    const lossOf = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, normal(y.shape, seed)));
    await useBackend('cpu');
    const ref = tf.tidy(() => {
      const g = tf.grads((x: tf.Tensor, wt: tf.Tensor) => lossOf(tf.conv2d(x as tf.Tensor4D, wt as tf.Tensor4D, stride, 'same'), 3));
      return g([normal([2, h, w, 3], 1), normal([k, k, 3, 5], 2)]).map((t) => t.dataSync() as Float32Array);
    });
    for (const { backend, out } of await onEachBackend(() =>
      tf.tidy(() => {
        const g = tf.grads((x: tf.Tensor, wt: tf.Tensor) => {
          const params = new Map([['c.w', wt], ['c.b', tf.zeros([5])]]);
          return lossOf(conv2d(params, 'c', x as tf.Tensor4D, stride as 1 | 2), 3);
        });
        return g([normal([2, h, w, 3], 1), normal([k, k, 3, 5], 2)]).map((t) => t.dataSync() as Float32Array);
      }),
    )) {
      // float32 sums of <= 2*9*9*5 products of N(0,1) values: ~1e-6 relative.
      expect(maxRelDiff(out[0], ref[0]), `${backend} dx`).toBeLessThan(1e-4);
      expect(maxRelDiff(out[1], ref[1]), `${backend} dW`).toBeLessThan(1e-4);
    }
  });

  it('upsample2x sends each 2x2 block of the output gradient back to its source pixel', async () => {
    for (const { backend, out } of await onEachBackend(() =>
      tf.tidy(() => {
        const dy = normal([2, 6, 8, 3], 5);
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(upsample2x(x as tf.Tensor4D), dy)))(normal([2, 3, 4, 3], 4));
        const want = tf.sum(tf.reshape(dy, [2, 3, 2, 4, 2, 3]), [2, 4]);
        return [g.dataSync() as Float32Array, want.dataSync() as Float32Array];
      }),
    )) {
      expect(maxRelDiff(out[0], out[1]), backend).toBeLessThan(1e-6);
    }
  });

  it('lookup selects rows, and its gradient accumulates into the rows used', async () => {
    for (const { backend, out } of await onEachBackend(() =>
      tf.tidy(() => {
        const table = normal([4, 3], 6);
        const index = tf.tensor1d([2, 0, 2], 'int32');
        const rows = lookup(table as tf.Tensor2D, index);
        const g = tf.grad((t: tf.Tensor) => tf.sum(lookup(t as tf.Tensor2D, index)))(table);
        return [rows.dataSync() as Float32Array, tf.gather(table, index).dataSync() as Float32Array, g.dataSync() as Float32Array];
      }),
    )) {
      expect(Array.from(out[0]), backend).toEqual(Array.from(out[1]));
      expect(Array.from(out[2]), backend).toEqual([1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0]);
    }
  });

  it.each([
    ['ddpm-unet2d', { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, numClasses: 2 }, [2, 8, 8, 1]],
    ['ddpm-unet3d', { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, depth: 3 }, [1, 3, 8, 8, 1]],
    ['vdm', { embeddingDim: 8, nLayers: 1, groups: 4 }, [2, 8, 8, 1]],
  ])('%s: the gradient of an L2 loss with respect to every parameter agrees across backends', async (kind, config, shape) => {
    const grads = await onEachBackend(() =>
      tf.tidy(() => {
        const model = createModel(kind, config);
        // init + noise, so no gradient is trivially zero through a zero-initialised layer.
        const params = perturbParams(model.init(1), 1, 0.05);
        const names = [...params.keys()];
        const x = normal(shape, 2);
        const target = normal(shape, 3);
        const t = tf.fill([shape[0]], 0.4) as tf.Tensor1D;
        const label = kind === 'ddpm-unet2d' ? tf.tensor1d([1, 2], 'int32') : undefined;
        const g = tf.grads((...ps: tf.Tensor[]) => {
          const p = new Map(names.map((n, i) => [n, ps[i]]));
          return tf.mean(tf.square(tf.sub(model.apply(p, x, t, label ? { label } : undefined), target)));
        })(names.map((n) => params.get(n)!));
        return g.map((t) => t.dataSync() as Float32Array);
      }),
    );
    const [ref, ...others] = grads;
    expect(ref.out.some((g) => g.some((v) => v !== 0))).toBe(true);
    for (const { backend, out } of others) {
      out.forEach((g, i) => expect(maxRelDiff(g, ref.out[i]), `${backend} parameter ${i}`).toBeLessThan(1e-3));
    }
  });
});
