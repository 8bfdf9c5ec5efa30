import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/config.ts';
import { laplacianPyramid, pyramidLevels, pyrDown, pyrUp, slicedWasserstein, slicesOf, type Plane } from '../../../../trainer/evaluate/metrics/swd.ts';
import { blobs, blobSet, noisy } from './helpers.ts';

const S: [number, number] = [32, 32];
const FAST = { patches: 1024, projections: 64 };
const plane = (data: number[], h: number, w: number): Plane => ({ data: Float64Array.from(data), h, w });
const maxAbs = (x: Float64Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('Laplacian pyramid', () => {
  it('pyrDown is the 5x5 binomial filter with mirror edges, then every second pixel', () => {
    const impulse = (y: number, x: number) => plane(Array.from({ length: 64 }, (_, i) => (i === y * 8 + x ? 1 : 0)), 8, 8);
    const d = pyrDown(impulse(4, 4)); // [4, 4] keeps pixels (2i, 2j)
    expect([d.h, d.w]).toEqual([4, 4]);
    // Kernel [1 4 6 4 1]^2 / 256 centred at (4, 4): (4, 4) -> 36, (4, 2) -> 6 * 1, (2, 2) -> 1 * 1.
    expect(d.data[2 * 4 + 2]).toBeCloseTo(36 / 256, 15);
    expect(d.data[2 * 4 + 1]).toBeCloseTo(6 / 256, 15);
    expect(d.data[1 * 4 + 1]).toBeCloseTo(1 / 256, 15);
    // Mirror (reflect-101): pixel (0, 0) sees index 1 at offsets -1 and +1, weight (4 + 4) / 16 per axis.
    // Clamped edges would give (4 / 16)^2 = 1/16 instead of 1/4.
    expect(pyrDown(impulse(1, 1)).data[0]).toBeCloseTo(0.25, 15);
  });

  it('has zero detail levels for a constant image and sums back to the image', () => {
    const c = laplacianPyramid(new Float32Array(32 * 32).fill(0.7), S, 3);
    expect(c.map((l) => [l.h, l.w])).toEqual([[32, 32], [16, 16], [8, 8]]);
    expect(maxAbs(c[0].data)).toBeLessThan(1e-15);
    expect(maxAbs(c[1].data)).toBeLessThan(1e-15);
    expect(maxAbs(c[2].data.map((v) => v - 0.7))).toBeLessThan(1e-7); // 0.7 in float32
    // Collapse: G_k = L_k + pyrUp(G_{k+1}), exact up to float64 rounding.
    const x = noisy(blobs([30, 27], 1), 0.2, 2); // odd sides too
    const levels = laplacianPyramid(x, [30, 27], 3);
    let g = levels[2];
    for (let k = 1; k >= 0; k--) {
      const up = pyrUp(g, levels[k].h, levels[k].w);
      g = { data: levels[k].data.map((v, i) => v + up.data[i]), h: levels[k].h, w: levels[k].w };
    }
    expect(maxAbs(g.data.map((v, i) => v - x[i]))).toBeLessThan(1e-12);
  });

  it('halves while the smaller side stays >= minSize (their 64 -> 64, 32, 16)', () => {
    expect(pyramidLevels([64, 64], 16)).toBe(3);
    expect(pyramidLevels([256, 256], 16)).toBe(5);
    expect(pyramidLevels([32, 48], 16)).toBe(2);
    expect(pyramidLevels([16, 16], 16)).toBe(1);
    expect(pyramidLevels([9, 9], 16)).toBe(1);
    expect(pyramidLevels([32, 32], 8)).toBe(3);
  });
});

describe('slicedWasserstein', () => {
  const a = blobSet(S, 1, 12).map((x, i) => noisy(x, 0.05, i));

  it('is exactly 0 for a set against itself: same patches, same directions', () => {
    const r = slicedWasserstein(a, a.map((x) => x.slice()), S, FAST);
    expect(r.levels.map((l) => l.swd)).toEqual([0, 0]);
    expect(r.mean).toBe(0);
    expect(r.levels.map((l) => l.size)).toEqual([[32, 32], [16, 16]]);
  });

  it('normalises each set over itself: a set against its own brightness and contrast change scores ~0 (what SWD cannot see)', () => {
    // The pyramid is linear and each level's descriptors are standardised per set, so b = 2a + 0.3 gives the
    // same standardised patches; without the standardisation the distance would be of the order of a's own spread.
    const r = slicedWasserstein(a, a.map((x) => x.map((v) => 2 * v + 0.3)), S, FAST);
    // Measured 8.4e-5 (float32 rounding of 2a + 0.3), against 31.9 for the same set with noise of std 0.05 added.
    expect(r.mean).toBeLessThan(1e-2);
    expect(slicedWasserstein(a, a.map((x, i) => noisy(x, 0.05, 100 + i)), S, FAST).mean).toBeGreaterThan(1);
  });

  it('grows monotonically with added Gaussian noise, at the finest level and on average', () => {
    const runs = [0.05, 0.1, 0.2].map((s) => slicedWasserstein(a, a.map((x, i) => noisy(x, s, 100 + i)), S, FAST));
    for (const key of ['finest', 'mean'] as const) {
      const v = runs.map((r) => (key === 'mean' ? r.mean : r.levels[0].swd));
      expect(v[0]).toBeGreaterThan(0);
      expect(v[1]).toBeGreaterThan(v[0]);
      expect(v[2]).toBeGreaterThan(v[1]);
    }
  });

  it('is deterministic for a seed and changes with it; sets may differ in size', () => {
    const b = blobSet(S, 2, 7);
    const r = slicedWasserstein(a, b, S, { ...FAST, seed: 3 });
    expect(slicedWasserstein(a, b, S, { ...FAST, seed: 3 })).toEqual(r);
    expect(slicedWasserstein(a, b, S, { ...FAST, seed: 4 }).mean).not.toBe(r.mean);
    expect(r.mean).toBeGreaterThan(0);
    // Scaled x 1e3: descriptors are unit-variance, so distances are O(0.01 .. 1) before scaling.
    expect(r.mean).toBeGreaterThan(1);
  });

  it('runs with the default settings on 16x16 images (one level)', () => {
    const small: [number, number] = [16, 16];
    const r = slicedWasserstein(blobSet(small, 3, 4), blobSet(small, 4, 5), small, { projections: 16 });
    expect(r.levels).toHaveLength(1);
    expect(Number.isFinite(r.mean)).toBe(true);
  });

  it('names the bad argument', () => {
    expect(() => slicedWasserstein([], a, S)).toThrow(/^a: empty set/);
    expect(() => slicedWasserstein(a, [], S)).toThrow(/^b: empty set/);
    expect(() => slicedWasserstein(a, [a[0].subarray(1)], S)).toThrow(/^b\[0\]: 1023 values, expected 1024$/);
    expect(() => slicedWasserstein(a, [a[0].map((v, i) => (i ? v : NaN))], S)).toThrow(/^b\[0\]: value 0 is NaN/);
    expect(() => slicedWasserstein(a, a, [4, 8, 32])).toThrow(/^shape: SWD takes 2D images/);
    expect(() => slicedWasserstein([new Float32Array(36)], [new Float32Array(36)], [6, 6])).toThrow(/^shape: images need sides of at least 7/);
    expect(() => slicedWasserstein(a, a, S, { patches: 0 })).toThrow(ConfigError);
    expect(() => slicedWasserstein(a, a, S, { patches: 0 })).toThrow(/^patches: /);
    expect(() => slicedWasserstein(a, a, S, { minSize: 4 })).toThrow(/^minSize: /);
  });
});

describe('slicesOf', () => {
  const v = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i); // [D=2, H=3, W=4]
  it('cuts a volume along D, H or W in stored order', () => {
    expect(slicesOf(v, [2, 3, 4]).map((s) => Array.from(s))).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
    ]);
    const coronal = slicesOf(v, [2, 3, 4], 1); // [D, W] at each h
    expect(coronal).toHaveLength(3);
    expect(Array.from(coronal[2])).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
    const sagittal = slicesOf(v, [2, 3, 4], 2); // [D, H] at each w
    expect(sagittal).toHaveLength(4);
    expect(Array.from(sagittal[3])).toEqual([3, 7, 11, 15, 19, 23]);
  });
  it('names the bad argument', () => {
    expect(() => slicesOf(v, [2, 3, 5])).toThrow(/^volume: 24 values, expected 30$/);
    expect(() => slicesOf(v, [2, 3, 4], 3 as 0)).toThrow(/^axis: /);
  });
});
