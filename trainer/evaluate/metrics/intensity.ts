// Intensity statistics a radiologist notices at a glance, per image and per
// set, in model space [-1, 1] (-1 = the darkest value the window shows):
//   - dark level: the image's 5th percentile. Real head slices and chest
//     films have air at -1, so a washed-out sample shows here (a grey
//     background at -0.83 instead of -1.00);
//   - foreground fraction: the share of pixels above FOREGROUND (5% of the
//     range above black): how much of the image is tissue. A sample brighter
//     over more of its area than any real image is counted;
//   - histogram distance: the 1-D Wasserstein-1 distance between the pooled
//     intensity distributions of two sets, W1 = int_0^1 |F_a^-1(p) - F_b^-1(p)| dp,
//     taken on QUANTILES evenly spaced p (the mean absolute difference of
//     matching quantiles), in model-space units (a uniform shift by c gives c).
// They see brightness and extent only: a noise square with the right
// histogram passes all three, so they complement the patch (SWD) and
// structure (MS-SSIM) metrics rather than replace them.
import { percentileOfSorted } from '../../preprocess/common.ts';
import { checkSet, median } from './common.ts';

/** Pixels above this (model space) count as foreground: 5% of the [-1, 1] range above black (as float32, the data's precision). */
export const FOREGROUND = Math.fround(-0.9);

/** Quantiles compared by the histogram distance. */
const QUANTILES = 1000;

export interface ImageIntensity {
  darkLevel: number;
  foreground: number;
}

/** One image's dark level (5th percentile) and foreground fraction. */
export function imageIntensity(x: Float32Array): ImageIntensity {
  const sorted = Float32Array.from(x).sort();
  let above = 0;
  for (const v of x) if (v > FOREGROUND) above++;
  return { darkLevel: percentileOfSorted(sorted, 5), foreground: above / x.length };
}

/** W1 between the pooled values of two sets (see the top of this file). */
export function histogramDistance(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  const pooled = (set: readonly Float32Array[]) => {
    const out = new Float32Array(set.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of set) {
      out.set(x, at);
      at += x.length;
    }
    return out.sort();
  };
  const [pa, pb] = [pooled(a), pooled(b)];
  let sum = 0;
  for (let k = 0; k < QUANTILES; k++) {
    const p = (100 * (k + 0.5)) / QUANTILES;
    sum += Math.abs(percentileOfSorted(pa, p) - percentileOfSorted(pb, p));
  }
  return sum / QUANTILES;
}

/** Median and extremes of a per-image statistic over a set. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

const spread = (values: number[]): Spread => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

export interface IntensityReport {
  darkLevel: { generated: Spread; real: Spread };
  foreground: { generated: Spread; real: Spread };
  /** Generated images whose dark level or foreground fraction lies outside the real images' [min, max]. */
  outsideRealRange: { darkLevel: number; foreground: number };
  histogramDistance: { generatedVsHeldOut: number; trainVsHeldOut: number };
}

/**
 * The statistics of generated images against real ones: `real` (train and
 * held-out together) sets the range each statistic takes on real data; the
 * histogram distance of generated to held-out is reported beside that of
 * train to held-out (what two real sets score). Images of equal size.
 */
export function intensityReport(generated: readonly Float32Array[], train: readonly Float32Array[], heldOut: readonly Float32Array[]): IntensityReport {
  const size = generated[0]?.length ?? 0;
  checkSet(generated, size, 'generated');
  checkSet(train, size, 'train');
  checkSet(heldOut, size, 'heldOut');
  const gen = generated.map(imageIntensity);
  const real = [...train, ...heldOut].map(imageIntensity);
  const of = (stats: ImageIntensity[], key: keyof ImageIntensity) => stats.map((s) => s[key]);
  const outside = (key: keyof ImageIntensity) => {
    const r = of(real, key);
    const [lo, hi] = [Math.min(...r), Math.max(...r)];
    return of(gen, key).filter((v) => v < lo || v > hi).length;
  };
  return {
    darkLevel: { generated: spread(of(gen, 'darkLevel')), real: spread(of(real, 'darkLevel')) },
    foreground: { generated: spread(of(gen, 'foreground')), real: spread(of(real, 'foreground')) },
    outsideRealRange: { darkLevel: outside('darkLevel'), foreground: outside('foreground') },
    histogramDistance: { generatedVsHeldOut: histogramDistance(generated, heldOut), trainVsHeldOut: histogramDistance(train, heldOut) },
  };
}
