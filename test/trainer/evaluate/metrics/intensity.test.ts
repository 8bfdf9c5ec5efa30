import { describe, expect, it } from 'vitest';
import { MetricError } from '../../../../trainer/evaluate/metrics/common.ts';
import { FOREGROUND, histogramDistance, imageIntensity, intensityReport } from '../../../../trainer/evaluate/metrics/intensity.ts';
import { Rng } from '../../../../shared/rng.ts';

/** `n` values: `bright` of them at `level`, the rest at `background`. */
function image(n: number, bright: number, level: number, background = -1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i < bright ? level : background));
}

describe('imageIntensity', () => {
  it('dark level is the 5th percentile and foreground the share above -0.9, by hand', () => {
    // 100 values, 10 at 0.5: sorted, the 5th percentile (index 4.95) lies among the -1s.
    expect(imageIntensity(image(100, 10, 0.5))).toEqual({ darkLevel: -1, foreground: 0.1 });
    // A washed-out image: its background sits at -0.83, and counts as foreground.
    expect(imageIntensity(image(100, 10, 0.5, -0.83))).toEqual({ darkLevel: expect.closeTo(-0.83, 6), foreground: 1 });
    // 0..19 over 20 values: index 0.95 -> 0 + 0.95 (interpolated).
    expect(imageIntensity(Float32Array.from({ length: 20 }, (_, i) => i)).darkLevel).toBeCloseTo(0.95, 6);
  });

  it('counts strictly above the threshold', () => {
    expect(imageIntensity(Float32Array.of(FOREGROUND, FOREGROUND, 0, -1)).foreground).toBe(0.25);
  });
});

describe('histogramDistance', () => {
  const a = Array.from({ length: 3 }, (_, i) => new Rng(i).normal(500).map((v) => 0.3 * v));

  it('is the shift for a shifted set, 0 for the same values, and symmetric', () => {
    const shifted = a.map((x) => x.map((v) => v + 0.25));
    expect(histogramDistance(a, shifted)).toBeCloseTo(0.25, 5);
    expect(histogramDistance(a, a.map((x) => x.slice().reverse()))).toBe(0);
    const b = [new Rng(9).uniform(800)];
    expect(histogramDistance(a, b)).toBe(histogramDistance(b, a));
  });

  it('sees where the mass is: all black against half black, half white is 1 (half the mass moves by 2)', () => {
    const black = [image(200, 0, 0)];
    const half = [image(200, 100, 1)];
    // Quantiles next to the median interpolate between -1 and 1: a few parts in a thousand.
    expect(histogramDistance(black, half)).toBeCloseTo(1, 2);
  });
});

describe('intensityReport', () => {
  const real = [image(64, 10, 0.4), image(64, 20, 0.6), image(64, 15, 0.5)];

  it('summarises generated and real images and counts generated ones outside the real range', () => {
    const generated = [image(64, 12, 0.5), image(64, 50, 0.5), image(64, 12, 0.5, -0.8)];
    const r = intensityReport(generated, real.slice(0, 2), real.slice(2));
    expect(r.foreground.real).toEqual({ median: 15 / 64, min: 10 / 64, max: 20 / 64 });
    expect(r.foreground.generated).toEqual({ median: 50 / 64, min: 12 / 64, max: 1 });
    expect(r.darkLevel.real).toEqual({ median: -1, min: -1, max: -1 });
    expect(r.darkLevel.generated.max).toBeCloseTo(-0.8, 6);
    // Too bright over too much area: the second (50 of 64) and the grey one (all 64 above -0.9); grey background: the third.
    expect(r.outsideRealRange).toEqual({ foreground: 2, darkLevel: 1 });
    expect(r.histogramDistance.generatedVsHeldOut).toBeGreaterThan(r.histogramDistance.trainVsHeldOut);
  });

  it('is all within range for real images against themselves', () => {
    const r = intensityReport(real, real, real);
    expect(r.outsideRealRange).toEqual({ foreground: 0, darkLevel: 0 });
    expect(r.histogramDistance).toEqual({ generatedVsHeldOut: 0, trainVsHeldOut: 0 });
  });

  it('names the bad set', () => {
    expect(() => intensityReport(real, [], real)).toThrow(/^train: empty set/);
    expect(() => intensityReport(real, real, [new Float32Array(3)])).toThrow(/^heldOut\[0\]: 3 values, expected 64$/);
    expect(() => intensityReport([Float32Array.of(NaN)], [Float32Array.of(0)], [Float32Array.of(0)])).toThrow(MetricError);
  });
});
