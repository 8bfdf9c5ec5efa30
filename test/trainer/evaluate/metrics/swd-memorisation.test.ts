import { describe, expect, it } from 'vitest';
import { memorisation } from '../../../../trainer/evaluate/metrics/memorisation.ts';
import { meanPairwiseMsSsim } from '../../../../trainer/evaluate/metrics/ms-ssim.ts';
import { laplacianPyramid, slicedWasserstein, slicesOf } from '../../../../trainer/evaluate/metrics/swd.ts';
import { blobs, noisy } from './helpers.ts';

const SHAPE: [number, number] = [32, 32];
const set = (seed: number, n = 12) => Array.from({ length: n }, (_, i) => blobs(SHAPE, seed * 100 + i));
const fast = { patches: 512, projections: 64 };

describe('sliced Wasserstein distance', () => {
  it('is exactly 0 for a set against itself, and deterministic for a seed', () => {
    const a = set(1);
    expect(slicedWasserstein(a, a, SHAPE, fast).mean).toBe(0);
    expect(slicedWasserstein(a, set(2), SHAPE, fast)).toEqual(slicedWasserstein(a, set(2), SHAPE, fast));
  });
  it('grows with added noise', () => {
    const a = set(1);
    const values = [0.05, 0.2, 0.8].map((s) => slicedWasserstein(a, a.map((x, i) => noisy(x, s, i)), SHAPE, fast).mean);
    expect(values[0]).toBeGreaterThan(0);
    expect(values[1]).toBeGreaterThan(values[0]);
    expect(values[2]).toBeGreaterThan(values[1]);
  });
  it('builds a pyramid whose levels add back up to the image', () => {
    const x = blobs([32, 32], 3);
    const levels = laplacianPyramid(x, [32, 32], 8);
    expect(levels.map((l) => l.length)).toEqual([1024, 256, 64]);
  });
  it('takes volumes as slices along any axis', () => {
    const v = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i); // [D=2, H=3, W=4]
    expect(slicesOf(v, [2, 3, 4], 0)[1][0]).toBe(12);
    expect(Array.from(slicesOf(v, [2, 3, 4], 1)[2])).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
    expect(Array.from(slicesOf(v, [2, 3, 4], 2)[3])).toEqual([3, 7, 11, 15, 19, 23]);
  });
  it('names bad input', () => {
    expect(() => slicedWasserstein([], set(1), SHAPE)).toThrow(/a: empty set/);
    expect(() => slicedWasserstein(set(1), set(1), [4, 4, 4])).toThrow(/SWD takes 2D images/);
    expect(() => slicedWasserstein(set(1), set(1), SHAPE, { patches: 0 })).toThrow(/patches/);
  });
});

describe('pairwise MS-SSIM (diversity)', () => {
  it('is 1 for copies of one image and lower for a varied set', () => {
    const one = blobs(SHAPE, 5);
    expect(meanPairwiseMsSsim([one, one, one], SHAPE, { range: 2 })).toBeCloseTo(1, 10);
    expect(meanPairwiseMsSsim(set(3), SHAPE, { range: 2 })).toBeLessThan(0.9);
    expect(() => meanPairwiseMsSsim([one], SHAPE, { range: 2 })).toThrow(/at least 2/);
  });
  it('subsamples pairs with a seed when there are many', () => {
    const s = set(4, 30); // 435 pairs
    const a = meanPairwiseMsSsim(s, SHAPE, { range: 2, maxPairs: 20, seed: 1 });
    expect(a).toBe(meanPairwiseMsSsim(s, SHAPE, { range: 2, maxPairs: 20, seed: 1 }));
    expect(a).not.toBe(meanPairwiseMsSsim(s, SHAPE, { range: 2, maxPairs: 20, seed: 2 }));
  });
});

describe('memorisation check', () => {
  // Blobs plus texture: unseen images of one distribution sit at similar nearest-neighbour distances.
  const textured = (seed: number, n: number) => set(seed, n).map((x, i) => noisy(x, 0.3, seed * 1000 + i));
  const train = textured(10, 20);
  const heldOut = textured(11, 10);
  it('flags a copied (slightly noisy) training image and names it', () => {
    const fresh = textured(12, 5);
    const samples = [...fresh, noisy(train[7], 0.01, 1)];
    const r = memorisation(samples, train, heldOut);
    expect(r.flagged).toEqual([{ sample: 5, train: 7, distance: expect.any(Number) }]);
  });
  it('does not flag fresh images from the same distribution; their ratio is near 1', () => {
    const r = memorisation(textured(13, 10), train, heldOut);
    expect(r.flagged).toEqual([]);
    expect(r.ratio).toBeGreaterThan(0.6);
    expect(r.ratio).toBeLessThan(1.6);
  });
  it('names bad input', () => {
    expect(() => memorisation(set(1, 2), [], heldOut)).toThrow(/train: empty set/);
    expect(() => memorisation(set(1, 2), train, heldOut, 0)).toThrow(/fraction/);
  });
});
