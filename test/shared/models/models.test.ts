// Behaviour every network shares, on every backend, plus the UNet3D's
// depth handling and cpu/wasm agreement. Models are tiny and their
// parameters perturbed away from init (an untrained network's output conv
// is zero, which would make most comparisons vacuous).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, type Model, type Params } from '../../../shared/models/index.ts';
import { Rng } from '../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';
import { perturbParams } from '../../helpers/tiny-models.ts';

interface Case {
  kind: string;
  config: Record<string, unknown>;
  /** Input shape [B, ...spatial, C]. */
  shape: number[];
}

const CASES: Case[] = [
  { kind: 'ddpm-unet2d', config: { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, numClasses: 3 }, shape: [2, 8, 8, 1] },
  { kind: 'ddpm-unet3d', config: { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, depth: 3 }, shape: [2, 3, 8, 8, 1] },
  { kind: 'vdm', config: { embeddingDim: 8, nLayers: 1, groups: 4 }, shape: [2, 8, 8, 1] },
  // The CPU-sized VDM variant: two levels, middle attention at half resolution.
  { kind: 'vdm', config: { embeddingDim: 8, nLayers: 1, groups: 4, channelMult: [1, 2], numClasses: 2 }, shape: [2, 8, 8, 1] },
];

/** init(seed) plus seeded N(0, 0.05^2) noise on every tensor, so every layer matters. */
function perturbedParams(model: Model<unknown>, seed: number): Params {
  return perturbParams(model.init(seed), seed, 0.05);
}

function input(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)), shape);
}

function run(model: Model<unknown>, params: Params, x: tf.Tensor, t = 0.3, label?: number[]): Float32Array {
  const tt = tf.fill([x.shape[0]], t) as tf.Tensor1D;
  const lt = label ? tf.tensor1d(label, 'int32') : undefined;
  try {
    const out = model.apply(params, x, tt, lt ? { label: lt } : undefined);
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  } finally {
    tf.dispose([tt, lt]);
  }
}

const dispose = (p: Params) => tf.dispose([...p.values()]);
const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe.each(TEST_BACKENDS)('models on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(CASES)('$kind', ({ kind, config, shape }) => {
    it('returns a prediction of the input shape and frees every intermediate', () => {
      const model = createModel(kind, config);
      const params = perturbedParams(model, 1);
      const x = input(shape, 2);
      const t = tf.fill([shape[0]], 0.5) as tf.Tensor1D;
      const before = tf.memory().numTensors;
      const out = model.apply(params, x, t);
      expect(out.shape).toEqual(shape);
      expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, t]);
      dispose(params);
    });

    it('reads every declared parameter, and names a missing one', () => {
      const model = createModel(kind, config);
      const params = perturbedParams(model, 1);
      const read = new Set<string>();
      class Tracking extends Map<string, tf.Tensor> {
        override get(name: string) {
          read.add(name);
          return super.get(name);
        }
      }
      const x = input(shape, 2);
      run(model, new Tracking(params), x);
      expect([...read].filter((n) => params.has(n)).sort()).toEqual(model.paramSpecs.map((s) => s.name).sort());

      const name = model.paramSpecs[Math.floor(model.paramSpecs.length / 2)].name;
      const partial = new Map(params);
      partial.delete(name);
      const before = tf.memory().numTensors;
      expect(() => run(model, partial, x)).toThrow(`model parameter "${name}" is missing`);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      dispose(params);
    });

    it('is deterministic in the seed and processes each sample independently', () => {
      const model = createModel(kind, config);
      const a = model.init(7);
      const b = model.init(7);
      const c = model.init(8);
      const first = model.paramSpecs.find((s) => s.init === 'normal')!.name;
      expect(Array.from(a.get(first)!.dataSync())).toEqual(Array.from(b.get(first)!.dataSync()));
      expect(Array.from(a.get(first)!.dataSync())).not.toEqual(Array.from(c.get(first)!.dataSync()));
      [a, b, c].forEach(dispose);

      // GroupNorm and attention must never mix samples of a batch.
      const params = perturbedParams(model, 3);
      const x1 = input(shape, 4);
      const other = tf.tidy(() => tf.concat([tf.slice(x1, 0, 1), tf.mul(tf.slice(x1, 1, 1), -2)]));
      const per = x1.size / shape[0];
      const y1 = run(model, params, x1).subarray(0, per);
      const y2 = run(model, params, other).subarray(0, per);
      expect(maxAbs(y1, y2)).toBeLessThan(1e-5);
      tf.dispose([x1, other]);
      dispose(params);
    });

    it('rejects inputs of the wrong rank, channels or batch with a clear error', () => {
      const model = createModel(kind, config);
      const params = perturbedParams(model, 1);
      const wrongChannels = input([...shape.slice(0, -1), 2], 1);
      const wrongRank = input(shape.slice(1), 1);
      const x = input(shape, 1);
      expect(() => run(model, params, wrongChannels)).toThrow(/channel/);
      expect(() => run(model, params, wrongRank)).toThrow(/an example must be \[/);
      const t = tf.fill([shape[0] + 1], 0.5) as tf.Tensor1D;
      expect(() => model.apply(params, x, t)).toThrow(/t must be/);
      tf.dispose([wrongChannels, wrongRank, x, t]);
      dispose(params);
    });

    it('condition() then apply(..., pre) is exactly apply(); a conditioning for another batch size is refused', () => {
      const model = createModel(kind, config);
      const params = perturbedParams(model, 1);
      const x = input(shape, 2);
      const labels = (config.numClasses as number | undefined) ? [1, 0] : undefined;
      const t = tf.tensor1d([0.3, 0.3]);
      const label = labels ? tf.tensor1d(labels, 'int32') : undefined;
      const before = tf.memory().numTensors;
      const pre = model.condition(params, t, label ? { label } : undefined);
      const out = model.apply(params, x, t, label ? { label } : undefined, pre);
      expect(Array.from(out.dataSync())).toEqual(Array.from(run(model, params, x, 0.3, labels)));
      const t3 = tf.fill([3], 0.3) as tf.Tensor1D;
      const other = model.condition(params, t3);
      expect(() => model.apply(params, x, t, undefined, other)).toThrow(/conditioning: computed for a batch of 3, the input has 2/);
      tf.dispose([out, t3, ...pre.flatMap((f) => [f.scale, f.shift]), ...other.flatMap((f) => [f.scale, f.shift])]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, t, label]);
      dispose(params);
    });

    it('predicts exactly 0 when untrained (zero-initialised output conv)', () => {
      const model = createModel(kind, config);
      const params = model.init(1);
      const x = input(shape, 2);
      expect(run(model, params, x).every((v) => v === 0)).toBe(true);
      x.dispose();
      dispose(params);
    });
  });

  it('ddpm-unet2d: the label steers the output, and no label means the null label', () => {
    const { config, shape } = CASES[0];
    const model = createModel('ddpm-unet2d', config);
    const params = perturbedParams(model, 5);
    const x = input(shape, 6);
    const y0 = run(model, params, x, 0.3, [0, 0]);
    const y1 = run(model, params, x, 0.3, [1, 1]);
    expect(maxAbs(y0, y1)).toBeGreaterThan(1e-3);
    expect(maxAbs(run(model, params, x), run(model, params, x, 0.3, [3, 3]))).toBe(0);
    x.dispose();
    dispose(params);
  });

  it('ddpm-unet3d: depth attention mixes slices, and the position bias makes it order-aware', () => {
    const { config, shape } = CASES[1];
    const model = createModel('ddpm-unet3d', config);
    const params = perturbedParams(model, 9);
    const x = input(shape, 10);
    const [, d, h, w] = shape;
    const slice = h * w;
    // 3x3x1 convolutions alone never see another slice: any change at the last
    // slice from editing the first comes through depth attention.
    const edited = tf.tidy(() => tf.concat([tf.mul(tf.slice(x, [0, 0], [-1, 1]), 3), tf.slice(x, [0, 1], [-1, d - 1])], 1));
    const y = run(model, params, x);
    const ye = run(model, params, edited);
    const last = (a: Float32Array) => a.subarray((d - 1) * slice, d * slice);
    expect(maxAbs(last(y), last(ye))).toBeGreaterThan(1e-4);
    // Reversing depth does not just reverse the output: the relative-position bias sees order.
    const reversed = tf.reverse(x, 1);
    const yr = tf.tidy(() => tf.reverse(tf.tensor(run(model, params, reversed), shape), 1));
    expect(maxAbs(y, yr.dataSync() as Float32Array)).toBeGreaterThan(1e-4);
    tf.dispose([x, edited, reversed, yr]);
    dispose(params);
  });
});

describe('models agree across backends', () => {
  it.each(CASES)('$kind: wasm matches cpu', async ({ kind, config, shape }) => {
    const outputs: Float32Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await useBackend(backend);
      const model = createModel(kind, config);
      const params = perturbedParams(model, 11);
      const x = input(shape, 12);
      outputs.push(run(model, params, x, 0.7, kind === 'ddpm-unet2d' ? [2, 0] : undefined));
      x.dispose();
      dispose(params);
    }
    const scale = outputs[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0.01);
    // Both run float32; XNNPACK reassociates sums differently from the cpu
    // kernels, giving ~1e-6 relative per op over ~40 ops.
    expect(maxAbs(outputs[0], outputs[1])).toBeLessThan(1e-4 * Math.max(1, scale));
  });
});
