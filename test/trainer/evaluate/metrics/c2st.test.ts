import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { c2st, rocAuc } from '../../../../trainer/evaluate/metrics/c2st.ts';
import { MetricError } from '../../../../trainer/evaluate/metrics/common.ts';
import { useBackend } from '../../../backends.ts';
import { blobSet, noisy } from './helpers.ts';

describe('rocAuc', () => {
  it('is the Mann-Whitney statistic, by hand', () => {
    // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered right.
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(rocAuc([1, 2, 3], [false, true, true])).toBe(1);
    expect(rocAuc([3, 2, 1], [false, true, true])).toBe(0);
    // A tie between classes counts half.
    expect(rocAuc([1, 1], [true, false])).toBe(0.5);
    expect(rocAuc([0, 1, 1, 2], [false, true, false, true])).toBe(0.875);
  });

  it('needs both classes', () => {
    expect(() => rocAuc([1, 2], [true, true])).toThrow(MetricError);
  });
});

describe('c2st', () => {
  beforeAll(() => useBackend('wasm'));
  const shape = [16, 16];
  const real = blobSet(shape, 1, 16);
  const options = { permutations: 5, steps: 40 };

  it('tells smooth blobs from noisy ones (AUC well above the shuffled-label baseline), and frees every tensor', () => {
    const generated = blobSet(shape, 2, 16).map((x, i) => noisy(x, 0.5, i));
    const before = tf.memory().numTensors;
    const r = c2st(real, generated, shape, options);
    expect(tf.memory().numTensors).toBe(before);
    // Measured: AUC 0.92, chance mean 0.51, 95th percentile 0.67 (16 against 16 images, 40 steps).
    expect(r.auc).toBeGreaterThan(0.85);
    expect(r.chance!.p95).toBeLessThan(r.auc);
    expect(r.chance!.mean).toBeGreaterThan(0.2);
    expect(r.chance!.mean).toBeLessThan(0.8);
    expect([r.real, r.generated]).toEqual([16, 16]);
  });

  it('finds nothing between two draws of the same kind of image: the AUC lies within chance', () => {
    const r = c2st(real, blobSet(shape, 3, 16), shape, options);
    // Measured: AUC 0.60 against a chance 95th percentile of 0.65.
    expect(r.auc).toBeLessThan(0.75);
    expect(r.auc).toBeLessThan(r.chance!.p95 + 0.05);
  });

  it('is deterministic in its seed', () => {
    const generated = blobSet(shape, 4, 8).map((x, i) => noisy(x, 0.2, i));
    const a = c2st(real.slice(0, 8), generated, shape, { permutations: 0, steps: 10 });
    expect(c2st(real.slice(0, 8), generated, shape, { permutations: 0, steps: 10 })).toEqual(a);
    expect(a.chance).toBeNull();
  });

  it('names bad input', () => {
    expect(() => c2st(real.slice(0, 3), real, shape)).toThrow(/^real: 3 images, the 4 folds need at least one/);
    expect(() => c2st(real, real, [2, 8, 16])).toThrow(/^shape: expected \[H, W\]/);
    expect(() => c2st(real, [new Float32Array(5)], shape)).toThrow(/^generated\[0\]: 5 values, expected 256$/);
    expect(() => c2st(real, real, shape, { folds: 1 })).toThrow(/c2st\.folds/);
  });
});
