import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/config.ts';
import {
  downsample2x,
  meanPairwiseMsSsim,
  msSsim,
  msSsimScales,
  msSsimWeights,
  samplePairs,
} from '../../../../trainer/evaluate/metrics/ms-ssim.ts';
import { ssim } from '../../../../trainer/evaluate/metrics/ssim.ts';
import { Rng } from '../../../../shared/rng.ts';
import { blobs, blobSet, noisy } from './helpers.ts';

const SHAPES = [[16, 16], [64, 64], [32, 32, 32]].map((shape) => [shape]);

describe('ms-ssim scales and pooling', () => {
  it('adapts the scale count to the smallest side (coarsest side >= 8, at most 5)', () => {
    const shapes = [[256, 256], [176, 200], [64, 64], [32, 32, 32], [17, 17], [16, 16], [15, 15], [8, 64], [4, 4], [64, 64, 8]];
    expect(shapes.map(msSsimScales)).toEqual([5, 5, 4, 3, 2, 2, 1, 1, 1, 1]);
  });

  it('renormalises the first M of the paper weights', () => {
    expect(msSsimWeights(5)).toEqual([0.0448, 0.2856, 0.3001, 0.2363, 0.1333].map((w) => w / 1.0001));
    const w3 = msSsimWeights(3);
    expect(w3.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 15);
    expect(w3[2]).toBeCloseTo(0.3001 / 0.6305, 15);
    expect(msSsimWeights(1)).toEqual([1]);
  });

  it('average-pools 2x per axis, dropping an odd last row', () => {
    const x = Float32Array.from({ length: 12 }, (_, i) => i + 1); // [4, 3]: rows 1 2 3 / 4 5 6 / 7 8 9 / 10 11 12
    expect(downsample2x(x, [4, 3])).toEqual({ data: Float32Array.of(3, 9), shape: [2, 1] });
    const v = Float32Array.from({ length: 8 }, (_, i) => i); // [2, 2, 2]
    expect(downsample2x(v, [2, 2, 2])).toEqual({ data: Float32Array.of(3.5), shape: [1, 1, 1] });
    expect(() => downsample2x(new Float32Array(4), [1, 4])).toThrow(/^shape: cannot halve/);
  });
});

describe('msSsim', () => {
  it.each(SHAPES)('is exactly 1 for identical inputs, falls with noise, stays in [0, 1] (%j)', (shape) => {
    const a = blobs(shape, 6);
    expect(msSsim(a, a.slice(), shape, 2)).toBe(1);
    const values = [0.02, 0.1, 0.3, 1].map((s) => msSsim(a, noisy(a, s, 7), shape, 2));
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
    for (const v of values) expect(v).toBeGreaterThan(0);
  });

  it.each(SHAPES)('gives 0, not NaN, for anti-correlated images (%j)', (shape) => {
    // Zero-mean texture and its negative: sigma_xy = -sigma^2, so cs < 0 at
    // the first scale; relu(cs) = 0 makes the product exactly 0.
    const a = new Rng(3).normal(shape.reduce((x, y) => x * y, 1)).map((v) => 0.3 * v);
    expect(msSsim(a, a.map((v) => -v), shape, 2)).toBe(0);
    const b = blobs(shape, 4); // blobs on a -1 background against their negative
    const m = msSsim(b, b.map((v) => -v), shape, 2);
    expect(m).toBeGreaterThanOrEqual(0);
    expect(m).toBeLessThan(0.05);
  });

  it('of constant images is the luminance term to the coarsest weight', () => {
    // Pooling keeps constants, so every cs_j = 1 and the coarsest SSIM is the
    // luminance term l = (2 * 0.5 * 0.25 + 4e-4) / (0.25 + 0.0625 + 4e-4) (range 2):
    // MS-SSIM = l^(0.2363 / (0.0448 + 0.2856 + 0.3001 + 0.2363)) for 64x64 (4 scales).
    const l = 0.2504 / 0.3129;
    const a = new Float32Array(64 * 64).fill(0.5);
    const b = new Float32Array(64 * 64).fill(0.25);
    expect(msSsim(a, b, [64, 64], 2)).toBeCloseTo(l ** (0.2363 / 0.8668), 12);
    // 32^3, 3 scales: exponent 0.3001 / 0.6305.
    expect(msSsim(new Float32Array(32 ** 3).fill(0.5), new Float32Array(32 ** 3).fill(0.25), [32, 32, 32], 2)).toBeCloseTo(l ** (0.3001 / 0.6305), 12);
  });

  it('with one scale is SSIM (clamped at 0)', () => {
    const a = blobs([24, 24], 1);
    const b = noisy(a, 0.2, 2);
    expect(msSsim(a, b, [24, 24], 2, { scales: 1 })).toBe(ssim(a, b, [24, 24], 2));
  });

  it('names the bad argument', () => {
    const a = blobs([16, 16], 1);
    expect(() => msSsim(a, a, [16, 16], 2, { scales: 6 })).toThrow(ConfigError);
    expect(() => msSsim(a, a, [16, 16], 2, { scales: 6 })).toThrow(/^scales: /);
    expect(() => msSsim(new Float32Array(8), new Float32Array(8), [2, 4], 2, { scales: 3 })).toThrow(/^scales: 3 scales halve/);
    expect(() => msSsim(a, a.subarray(1), [16, 16], 2)).toThrow(/^b: 255 values, expected 256$/);
    expect(() => msSsim(a, a, [16, 16], 0)).toThrow(/^range: /);
  });
});

describe('meanPairwiseMsSsim (diversity)', () => {
  const S = [32, 32];

  it('takes all pairs when few: the mean of msSsim over them', () => {
    const set = blobSet(S, 1, 5);
    let sum = 0;
    for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) sum += msSsim(set[i], set[j], S, 2);
    expect(meanPairwiseMsSsim(set, S, { range: 2 })).toBe(sum / 10);
  });

  it('draws a seeded subset of distinct pairs when there are many', () => {
    expect(samplePairs(5, 200, 0)).toHaveLength(10);
    const pairs = samplePairs(30, 20, 1);
    expect(pairs).toHaveLength(20);
    expect(new Set(pairs.map(([i, j]) => `${i},${j}`)).size).toBe(20);
    for (const [i, j] of pairs) expect(0 <= i && i < j && j < 30).toBe(true);
    expect(samplePairs(30, 20, 1)).toEqual(pairs);
    expect(samplePairs(30, 20, 2)).not.toEqual(pairs);
    expect(samplePairs(21, 209, 3)).toHaveLength(209); // 210 pairs: the rejection loop still ends

    const set = blobSet(S, 2, 30);
    const mean = meanPairwiseMsSsim(set, S, { range: 2, maxPairs: 20, seed: 1 });
    expect(mean).toBe(pairs.reduce((s, [i, j]) => s + msSsim(set[i], set[j], S, 2), 0) / 20);
  });

  it('is 1 for copies, higher for near-duplicates than for a varied set, in 2D and 3D', () => {
    const one = blobs(S, 5);
    expect(meanPairwiseMsSsim([one, one.slice(), one.slice()], S, { range: 2 })).toBe(1);
    const varied = meanPairwiseMsSsim(blobSet(S, 3, 8), S, { range: 2 });
    const collapsed = meanPairwiseMsSsim(Array.from({ length: 8 }, (_, i) => noisy(one, 0.05, i)), S, { range: 2 });
    expect(collapsed).toBeGreaterThan(varied);
    expect(varied).toBeLessThan(0.8);
    const vols = blobSet([32, 32, 32], 4, 3);
    const v = meanPairwiseMsSsim(vols, [32, 32, 32], { range: 2 });
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(1);
  });

  it('names the bad argument', () => {
    const set = blobSet(S, 1, 3);
    expect(() => meanPairwiseMsSsim(set.slice(0, 1), S, { range: 2 })).toThrow(/^images: MS-SSIM among images needs at least 2, got 1$/);
    expect(() => meanPairwiseMsSsim([], S, { range: 2 })).toThrow(/^images: empty set/);
    expect(() => meanPairwiseMsSsim([set[0], set[1].subarray(2)], S, { range: 2 })).toThrow(/^images\[1\]: 1022 values, expected 1024$/);
    expect(() => meanPairwiseMsSsim(set, S, { range: 2, maxPairs: 0 })).toThrow(/^maxPairs: /);
    expect(() => meanPairwiseMsSsim(set, S, { range: 0 })).toThrow(/^range: /);
    expect(() => meanPairwiseMsSsim(set, S, {} as never)).toThrow(/^range: /);
  });
});
