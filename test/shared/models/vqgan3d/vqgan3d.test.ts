// The VQ-GAN's sampling-time networks on every backend: shapes for each
// downsampling config, nearest-code quantisation against brute force, the
// straight-through gradient, config errors, cpu/wasm agreement and leaks.
import '@tensorflow/tfjs'; // registers the gradients of the built-in ops
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/config.ts';
import type { Triple } from '../../../../shared/models/layers3d.ts';
import { CODEBOOK, levelStrides, straightThrough, vqgan3d } from '../../../../shared/models/vqgan3d/index.ts';
import { Rng } from '../../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../../backends.ts';

const TINY = { nHiddens: 4, groups: 4, nCodes: 16, embeddingDim: 3 };
const normal = (shape: number[], seed: number) => tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)), shape);

describe('vqgan3d config', () => {
  it('per-level strides follow TATS: an axis is strided while it has downsampling left', () => {
    expect(levelStrides([2, 4, 4])).toEqual([[2, 2, 2], [1, 2, 2]]);
    expect(levelStrides([8, 1, 2])).toEqual([[2, 1, 2], [2, 1, 1], [2, 1, 1]]);
  });

  it.each([
    [{ downsample: [3, 2, 2] }, 'model.downsample[0]'],
    [{ downsample: [1, 1, 1] }, 'model.downsample'],
    [{ nHiddens: 4, groups: 3 }, 'model.groups'],
    [{ extra: 1 }, 'model'],
  ])('rejects %j naming %s', (raw, field) => {
    try {
      vqgan3d(raw);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe(field);
    }
  });
});

describe.each(TEST_BACKENDS)('vqgan3d on %s', (backend) => {
  it.each<[Triple, Triple]>([
    [[2, 2, 2], [8, 8, 8]],
    [[4, 4, 4], [8, 16, 8]],
    [[8, 8, 8], [16, 16, 16]],
    [[2, 4, 1], [4, 8, 4]],
  ])('downsample %j on a %j volume: latents [B, D/fd, H/fh, W/fw, E], reconstruction of the input shape', async (downsample, shape) => {
    await useBackend(backend);
    const model = vqgan3d({ ...TINY, downsample });
    const params = model.init(1);
    const x = normal([2, ...shape, 1], 2) as tf.Tensor5D;
    const z = model.encode(params, x);
    expect(z.shape).toEqual([2, ...model.latentShape(shape), 3]);
    expect(model.latentShape(shape)).toEqual(shape.map((s, i) => s / downsample[i]));
    const y = model.decode(params, z, { quantize: true });
    expect(y.shape).toEqual(x.shape);
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([x, z, y, ...params.values()]);
  });

  it('quantize picks the nearest codebook entry (brute force) and decode({quantize}) equals decode of those entries', async () => {
    await useBackend(backend);
    const model = vqgan3d({ ...TINY, downsample: [2, 2, 2] });
    const params = model.init(3);
    const z = normal([2, 2, 3, 2, 3], 4) as tf.Tensor5D;
    const { zq, indices } = model.quantize(params, z);
    const e = params.get(CODEBOOK)!.arraySync() as number[][];
    const zs = z.dataSync();
    const want = Array.from({ length: indices.length }, (_, m) => {
      const d = e.map((row) => row.reduce((s, v, j) => s + (zs[m * 3 + j] - v) ** 2, 0));
      return d.indexOf(Math.min(...d));
    });
    expect(Array.from(indices)).toEqual(want);
    expect(Array.from(zq.dataSync())).toEqual(want.flatMap((k) => e[k].map(Math.fround)));
    const a = model.decode(params, z, { quantize: true });
    const b = model.decode(params, zq);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([z, zq, a, b, ...params.values()]);
  });

  it('straight-through: the forward value is zq; the gradient passes to z unchanged and not to zq', async () => {
    await useBackend(backend);
    const [z, zq, r] = [normal([4, 3], 5), normal([4, 3], 6), normal([4, 3], 7)];
    const y = straightThrough(z, zq);
    expect(Array.from(y.dataSync())).toEqual(Array.from(zq.dataSync()));
    const [gz, gq] = tf.grads((a, b) => tf.sum(tf.mul(straightThrough(a, b), r)))([z, zq]);
    expect(Array.from(gz.dataSync())).toEqual(Array.from(r.dataSync()));
    expect(Array.from(gq.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose([z, zq, r, y, gz, gq]);
  });

  it('rejects inputs whose shape does not fit', async () => {
    await useBackend(backend);
    const model = vqgan3d({ ...TINY, downsample: [4, 4, 4] });
    const params = model.init(1);
    const x = tf.zeros([1, 4, 6, 4, 1]) as tf.Tensor5D;
    expect(() => model.encode(params, x)).toThrow(/multiple of downsample/);
    const z = tf.zeros([1, 1, 1, 1, 5]) as tf.Tensor5D;
    expect(() => model.decode(params, z)).toThrow(/latents must be/);
    tf.dispose([x, z, ...params.values()]);
  });

  it('encode, quantize and decode (with and without gradients) free every intermediate', async () => {
    await useBackend(backend);
    const model = vqgan3d({ ...TINY, downsample: [2, 2, 2] });
    const params = model.init(1);
    const x = normal([1, 4, 4, 4, 1], 8) as tf.Tensor5D;
    const before = tf.memory().numTensors;
    const z = model.encode(params, x);
    const { zq } = model.quantize(params, z);
    const names = [...params.keys()].filter((n) => n !== CODEBOOK);
    const grads = tf.grads((...ps) => {
      const p = new Map([...params, ...names.map((n, i) => [n, ps[i]] as const)]);
      const zz = model.encode(p, x);
      return tf.sum(tf.abs(model.decode(p, straightThrough(zz, model.quantize(p, zz).zq) as tf.Tensor5D)));
    })(names.map((n) => params.get(n)!));
    expect(grads.every((g) => Array.from(g.dataSync()).every(Number.isFinite))).toBe(true);
    tf.dispose([z, zq, model.decode(params, z, { quantize: true }), ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...params.values()]);
  });
});

describe('vqgan3d across backends', () => {
  it('cpu and wasm reconstruct alike (same codes; outputs within float32 rounding)', async () => {
    const run = async (backend: 'cpu' | 'wasm') => {
      await useBackend(backend);
      const model = vqgan3d({ ...TINY, downsample: [2, 4, 2] });
      const params = model.init(9);
      const x = normal([1, 8, 8, 8, 1], 10) as tf.Tensor5D;
      const z = model.encode(params, x);
      const { zq, indices } = model.quantize(params, z);
      const y = model.decode(params, zq);
      const out = { indices, y: y.dataSync() as Float32Array, z: z.dataSync() as Float32Array };
      tf.dispose([x, z, zq, y, ...params.values()]);
      return out;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    // O(1) activations through ~10 convolutions summing <= 27*32 float32 products: ~1e-5.
    expect(maxDiff(wasm.z, cpu.z)).toBeLessThan(1e-3);
    expect(Array.from(wasm.indices)).toEqual(Array.from(cpu.indices));
    expect(maxDiff(wasm.y, cpu.y)).toBeLessThan(1e-3);
  });
});
