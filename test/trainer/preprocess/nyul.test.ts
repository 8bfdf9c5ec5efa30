import { describe, expect, it } from 'vitest';
import { realRange, toRealUnits } from '../../../shared/intensity.ts';
import { percentiles } from '../../../trainer/preprocess/common.ts';
import { applyNyul, fitNyul, nyulLandmarks, nyulMapping, nyulToModel, piecewiseLinear } from '../../../trainer/preprocess/nyul.ts';
import { layeredSphere, mapped, sphereMask } from './phantoms.ts';

const shape: [number, number, number] = [24, 24, 24];
const spacing: [number, number, number] = [1, 1, 1];
const R = 10;
const sphere = sphereMask(shape, spacing, R);
const mask = () => sphere;

// Three "scanners": identity, gain 2 + offset 30, and a non-linear response.
const base = [1, 2, 3].map((seed) => layeredSphere({ shape, spacing, R, seed }));
const training = [
  mapped(base[0], (x) => x, 'a.nii'),
  mapped(base[1], (x) => 2 * x + 30, 'b.nii'),
  mapped(base[2], (x) => 0.5 * Math.max(x, 0) ** 1.15 + 5, 'c.nii'),
];
const fit = fitNyul(training, { mask });

/** Normalised histogram of `values` over the mask, `bins` bins on [lo, hi]. */
function histogram(values: Float32Array, lo: number, hi: number, bins = 20): Float64Array {
  const h = new Float64Array(bins);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (!sphere[i]) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((values[i] - lo) / (hi - lo)) * bins)));
    h[b]++;
    n++;
  }
  return h.map((x) => x / n);
}
const l1 = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0);

describe('percentiles', () => {
  it("interpolates linearly between order statistics at rank p/100 (n - 1) (numpy's default), over the mask", () => {
    const x = Float32Array.from([5, 1, 4, 2, 3, 1000]);
    const m = Uint8Array.from([1, 1, 1, 1, 1, 0]);
    const got = percentiles(x, [0, 25, 50, 90, 100], m);
    [1, 2, 3, 4.6, 5].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 9));
  });
});

describe('Nyul-Udupa standardisation', () => {
  it('learns a standard scale on [sMin, sMax] = [0, 100] at [1, 10..90, 99]', () => {
    expect(fit.percentiles).toEqual([1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99]);
    expect(fit.scale[0]).toBe(0);
    expect(fit.scale[10]).toBe(100);
    for (let l = 1; l < fit.scale.length; l++) expect(fit.scale[l]).toBeGreaterThan(fit.scale[l - 1]);
    // The mean of the three volumes' linearly mapped landmarks, recomputed here.
    const mapped = training.map((v) => {
      const m = nyulLandmarks(v, fit.percentiles, mask);
      return m.map((x) => ((x - m[0]) / (m[10] - m[0])) * 100);
    });
    fit.scale.forEach((s, l) => expect(s).toBeCloseTo((mapped[0][l] + mapped[1][l] + mapped[2][l]) / 3, 9));
  });

  it("maps each training volume's landmarks exactly onto the standard scale", () => {
    for (const v of training) {
      const m = nyulLandmarks(v, fit.percentiles, mask);
      const s = piecewiseLinear(Float32Array.from(m), m, fit.scale);
      s.forEach((x, l) => expect(Math.abs(x - fit.scale[l])).toBeLessThan(1e-4));
      // and the standardised volume's own foreground percentiles sit on the scale too
      const std = applyNyul(v, fit, { mask: sphere });
      percentiles(std, fit.percentiles, sphere).forEach((p, l) => expect(Math.abs(p - fit.scale[l])).toBeLessThan(0.5));
    }
  });

  it('is monotone non-decreasing on a dense grid, tails extrapolated with the end slopes', () => {
    for (const v of training) {
      const m = nyulLandmarks(v, fit.percentiles, mask);
      const lo = m[0] - 100;
      const hi = m[10] + 100;
      const grid = Float32Array.from({ length: 20001 }, (_, i) => lo + ((hi - lo) * i) / 20000);
      const y = piecewiseLinear(grid, m, fit.scale);
      let decreases = 0;
      for (let i = 1; i < y.length; i++) if (y[i] < y[i - 1]) decreases++;
      expect(decreases).toBe(0);
      expect(y[y.length - 1]).toBeGreaterThan(y[0]);
      const slopeLow = (fit.scale[1] - fit.scale[0]) / (m[1] - m[0]);
      const slopeHigh = (fit.scale[10] - fit.scale[9]) / (m[10] - m[9]);
      expect(y[0]).toBeCloseTo(fit.scale[0] - 100 * slopeLow, 3);
      expect(y[y.length - 1]).toBeCloseTo(fit.scale[10] + 100 * slopeHigh, 3);
    }
  });

  it('stays monotone when landmarks tie (a flat histogram stretch)', () => {
    const m = [0, 10, 10, 10, 20];
    const s = [0, 20, 40, 60, 100];
    const y = piecewiseLinear(Float32Array.from([5, 9.999, 10, 10.001, 15]), m, s);
    for (let i = 1; i < y.length; i++) expect(y[i]).toBeGreaterThanOrEqual(y[i - 1]);
    expect(y[2]).toBe(20);
  });

  it('gives an unseen, differently scaled scan nearly the same standardised histogram', () => {
    const unseenBase = layeredSphere({ shape, spacing, R, seed: 99 }); // new noise
    const unseen = mapped(unseenBase, (x) => 3 * x + 17, 'unseen.nii');
    const stdUnseen = applyNyul(unseen, fit, { mask: sphere });
    const stdRef = applyNyul(training[0], fit, { mask: sphere });
    const rawDistance = l1(histogram(unseen.data, 0, 400), histogram(training[0].data, 0, 400));
    const stdDistance = l1(histogram(stdUnseen, -10, 110), histogram(stdRef, -10, 110));
    expect(rawDistance).toBeGreaterThan(1); // very different before
    expect(stdDistance).toBeLessThan(0.1); // nearly the same after
    // A pure gain/offset change is undone exactly.
    const scaled = mapped(training[0], (x) => 3 * x + 17, 'scaled.nii');
    const stdScaled = applyNyul(scaled, fit, { mask: sphere });
    let maxDiff = 0;
    for (let i = 0; i < stdRef.length; i++) maxDiff = Math.max(maxDiff, Math.abs(stdScaled[i] - stdRef[i]));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('round-trips with shared/intensity toRealUnits', () => {
    const mapping = nyulMapping(fit, 'nyul');
    expect(realRange(mapping)).toEqual([0, 100]);
    // model -> real -> model
    const x = Float32Array.from({ length: 201 }, (_, i) => -1 + i / 100);
    const back = nyulToModel(toRealUnits(x, mapping), fit);
    x.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThan(1e-6));
    // real (standard scale) -> model -> real, values inside the scale come back; outside are clipped
    const std = applyNyul(training[1], fit, { mask: sphere });
    const real = toRealUnits(nyulToModel(std, fit), mapping);
    let worst = 0;
    for (let i = 0; i < std.length; i++) worst = Math.max(worst, Math.abs(real[i] - Math.min(100, Math.max(0, std[i]))));
    expect(worst).toBeLessThan(1e-4);
  });

  it('works with the default foreground mask and rejects an empty or flat foreground', () => {
    const auto = fitNyul(training);
    auto.scale.forEach((s, l) => expect(Math.abs(s - fit.scale[l])).toBeLessThan(3));
    const flat = { ...training[0], data: new Float32Array(training[0].data.length).fill(7), source: 'flat.nii' };
    expect(() => fitNyul([flat], { mask })).toThrow(/flat\.nii: nyul: the foreground is flat/);
    expect(() => fitNyul([training[0]], { mask: () => new Uint8Array(sphere.length) })).toThrow(/a\.nii: nyul: the foreground mask is empty/);
    expect(() => fitNyul(training, { landmarks: [50, 40] })).toThrow(/increase strictly/);
  });
});
