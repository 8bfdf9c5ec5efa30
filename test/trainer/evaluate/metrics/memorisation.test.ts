import { describe, expect, it } from 'vitest';
import { memorisation, nearest } from '../../../../trainer/evaluate/metrics/memorisation.ts';
import { blobSet, noisy } from './helpers.ts';

const S = [16, 16];
/** One distribution: blob layouts plus pixel texture (std 0.3), so unseen images are never near-copies. */
const textured = (base: number, n: number) => blobSet(S, base, n).map((x, i) => noisy(x, 0.3, base * 1000 + i));
const train = textured(10, 40);
const heldOut = textured(11, 20);

describe('nearest', () => {
  it('finds the nearest image by RMS distance, the first on ties', () => {
    const set = [Float32Array.of(3, 4), Float32Array.of(1, 1), Float32Array.of(0, 2), Float32Array.of(-1, 1)];
    // RMS from (0, 0): sqrt(25 / 2), 1, sqrt(2), 1.
    expect(nearest(Float32Array.of(0, 0), set)).toEqual({ index: 1, distance: 1 });
    expect(nearest(Float32Array.of(3, 4), set)).toEqual({ index: 0, distance: 0 });
    expect(nearest(Float32Array.of(0, 2.5), set).distance).toBeCloseTo(Math.sqrt(0.25 / 2), 7); // float32 input
  });
});

describe('memorisation', () => {
  it('flags a copy and a copy + tiny noise of training images, naming them, and not fresh images', () => {
    const fresh = textured(12, 10);
    const samples = [train[3].slice(), noisy(train[7], 0.01, 1), ...fresh];
    const r = memorisation(samples, train, heldOut);
    expect(r.flagged.map(({ sample, train: t }) => [sample, t])).toEqual([
      [0, 3],
      [1, 7],
    ]);
    expect(r.flagged[0].distance).toBe(0);
    // The RMS of 256 draws of N(0, 0.01^2) is 0.01 with a relative sd of 1 / sqrt(2 * 256) = 4.4%: +-15% is 3.4 sd.
    expect(Math.abs(r.flagged[1].distance - 0.01)).toBeLessThan(0.0015);
    expect(r.nearestTrain.slice(0, 2)).toEqual([3, 7]);
    expect(r.threshold).toBe(0.5 * r.median.heldOutToTrain);
    expect(r.sampleToTrain).toHaveLength(12);
    expect(r.sampleToHeldOut).toHaveLength(12);
    expect(r.heldOutToTrain).toHaveLength(20);
  });

  it('does not flag fresh images of the held-out distribution; their ratio is near 1', () => {
    const r = memorisation(textured(13, 20), train, heldOut);
    expect(r.flagged).toEqual([]);
    // Over 30 independent draws of these sets (train, held-out, fresh) the
    // ratio stayed in [0.94, 1.13] and the nearest fresh sample was >= 0.77 x
    // the baseline median, so [0.8, 1.25] and no flags at 0.5 are safe and a
    // broken baseline or median (ratio ~0 or >> 1) still fails.
    expect(r.ratio).toBeGreaterThan(0.8);
    expect(r.ratio).toBeLessThan(1.25);
    expect(r.median.sampleToHeldOut).toBeGreaterThan(0.8 * r.median.heldOutToTrain);
  });

  it('applies the fraction to the held-out baseline median', () => {
    const samples = [noisy(train[2], 0.2, 5), noisy(train[4], 0.05, 6)];
    const at = (fraction: number) => memorisation(samples, train, heldOut, { fraction }).flagged.map((f) => f.sample);
    const r = memorisation(samples, train, heldOut);
    // RMS 0.2 and 0.05 against a baseline median ~0.6: flagged below 0.3 (0.5), only the closer one below 0.15 (0.25).
    expect(r.median.heldOutToTrain).toBeGreaterThan(0.5);
    expect(at(0.5)).toEqual([0, 1]);
    expect(at(0.25)).toEqual([1]);
    expect(at(0.05)).toEqual([]);
  });

  it('reports a null ratio when held-out images duplicate training images', () => {
    const r = memorisation(textured(14, 3), train, train.slice(0, 5));
    expect(r.median.heldOutToTrain).toBe(0);
    expect(r.ratio).toBeNull();
    expect(r.flagged).toEqual([]); // nothing is below a threshold of 0
  });

  it('names the bad argument', () => {
    const ok = textured(15, 2);
    expect(() => memorisation(ok, [], heldOut)).toThrow(/^train: empty set/);
    expect(() => memorisation([], train, heldOut)).toThrow(/^samples: empty set/);
    expect(() => memorisation(ok, train, [])).toThrow(/^heldOut: empty set/);
    expect(() => memorisation([ok[0], ok[1].subarray(1)], train, heldOut)).toThrow(/^samples\[1\]: 255 values, expected 256$/);
    expect(() => memorisation(ok, train, [heldOut[0].map((v, i) => (i === 9 ? Infinity : v))])).toThrow(/^heldOut\[0\]: value 9 is Infinity/);
    expect(() => memorisation(ok, train, heldOut, { fraction: 0 })).toThrow(/^fraction: /);
    expect(() => memorisation(ok, train, heldOut, { fraction: 1.5 })).toThrow(/^fraction: /);
  });
});
