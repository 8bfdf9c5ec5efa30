// Structural similarity (Wang, Bovik, Sheikh and Simoncelli 2004, "Image
// quality assessment: from error visibility to structural similarity",
// eqs. 6-13), for 2D images [H, W] and 3D volumes [D, H, W]:
//   l(x, y)  = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)           (eq. 6)
//   cs(x, y) = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)       (eqs. 9-10, with C3 = C2 / 2)
//   SSIM = l * cs,  C1 = (K1 L)^2,  C2 = (K2 L)^2,  K1 = 0.01,  K2 = 0.03, L = data range,
// the local statistics weighted by a Gaussian window (sigma 1.5, 11 taps,
// normalised; eq. 14), separable along each axis and applied 'valid' (only
// positions where the window fits, no padding), as pytorch_msssim and MONAI
// do. The reported SSIM is the mean over those positions (eq. 17); the mean
// cs is MS-SSIM's per-scale factor.
//
// Small images: along an axis shorter than 11 voxels the window shrinks to
// the largest odd size n that fits (n = size, or size - 1 when even) and its
// sigma to 1.5 n / 11, so it keeps the same shape relative to its support
// (cut at +-3.3 sigma) and still fits; a 1- or 2-voxel axis gets n = 1 (no
// smoothing along it, what pytorch_msssim does for axes shorter than its window).
// Statistics are accumulated in float64 so identical inputs give exactly 1.
import { checkRange, checkShape, checkValues, sizeOf, type Shape } from './common.ts';

export const K1 = 0.01;
export const K2 = 0.03;
export const WINDOW_SIZE = 11;
export const WINDOW_SIGMA = 1.5;

/** The normalised 1D Gaussian taps for an axis of `size` voxels (see the top of this file). */
export function gaussianWindow(size: number): Float64Array {
  const n = Math.max(1, Math.min(WINDOW_SIZE, size % 2 ? size : size - 1));
  const sigma = (WINDOW_SIGMA * n) / WINDOW_SIZE;
  const taps = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += taps[i] = Math.exp(-((i - (n - 1) / 2) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < n; i++) taps[i] /= sum;
  return taps;
}

/** 'Valid' correlation of `x` (over `shape`) with `taps` along `axis`: that axis shrinks by taps.length - 1. */
function filterAxis(x: Float64Array, shape: number[], axis: number, taps: Float64Array): { data: Float64Array; shape: number[] } {
  const n = shape[axis];
  const m = n - taps.length + 1;
  const outShape = shape.map((s, i) => (i === axis ? m : s));
  const inner = sizeOf(shape.slice(axis + 1)); // contiguous run after the axis
  const outer = sizeOf(shape.slice(0, axis));
  const y = new Float64Array(outer * m * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < m; i++) {
      const dst = (o * m + i) * inner;
      for (let k = 0; k < taps.length; k++) {
        const t = taps[k];
        const src = (o * n + i + k) * inner;
        for (let j = 0; j < inner; j++) y[dst + j] += t * x[src + j];
      }
    }
  }
  return { data: y, shape: outShape };
}

/** Gaussian-weighted local means at every position where the window fits. */
function localMean(x: Float64Array, shape: Shape, windows: Float64Array[]): Float64Array {
  let r = { data: x, shape: [...shape] };
  windows.forEach((taps, axis) => (r = filterAxis(r.data, r.shape, axis, taps)));
  return r.data;
}

export interface SsimTerms {
  /** Mean SSIM over window positions. */
  ssim: number;
  /** Mean contrast-structure term cs (MS-SSIM's per-scale factor). */
  cs: number;
}

/** Mean SSIM and mean cs of `a` and `b` (no input checks: callers check once; see ssimTerms). */
export function ssimTermsUnchecked(a: Float32Array, b: Float32Array, shape: Shape, range: number): SsimTerms {
  const windows = shape.map(gaussianWindow);
  const x = Float64Array.from(a);
  const y = Float64Array.from(b);
  const xx = new Float64Array(x.length);
  const yy = new Float64Array(x.length);
  const xy = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    xx[i] = x[i] * x[i];
    yy[i] = y[i] * y[i];
    xy[i] = x[i] * y[i];
  }
  const muX = localMean(x, shape, windows);
  const muY = localMean(y, shape, windows);
  const eXX = localMean(xx, shape, windows);
  const eYY = localMean(yy, shape, windows);
  const eXY = localMean(xy, shape, windows);
  const c1 = (K1 * range) ** 2;
  const c2 = (K2 * range) ** 2;
  let ssim = 0;
  let cs = 0;
  for (let i = 0; i < muX.length; i++) {
    const varX = eXX[i] - muX[i] * muX[i];
    const varY = eYY[i] - muY[i] * muY[i];
    const cov = eXY[i] - muX[i] * muY[i];
    const l = (2 * muX[i] * muY[i] + c1) / (muX[i] * muX[i] + muY[i] * muY[i] + c1);
    const c = (2 * cov + c2) / (varX + varY + c2);
    cs += c;
    ssim += l * c;
  }
  return { ssim: ssim / muX.length, cs: cs / muX.length };
}

function checkPair(a: Float32Array, b: Float32Array, shape: Shape, range: number): void {
  checkShape(shape);
  checkRange(range);
  checkValues(a, sizeOf(shape), 'a');
  checkValues(b, sizeOf(shape), 'b');
}

/** Mean SSIM and mean cs of two images [H, W] or volumes [D, H, W] whose data span `range`. */
export function ssimTerms(a: Float32Array, b: Float32Array, shape: Shape, range: number): SsimTerms {
  checkPair(a, b, shape, range);
  return ssimTermsUnchecked(a, b, shape, range);
}

/** Mean SSIM (in [-1, 1]; 1 only for identical inputs) of two images or volumes whose data span `range`. */
export function ssim(a: Float32Array, b: Float32Array, shape: Shape, range: number): number {
  return ssimTerms(a, b, shape, range).ssim;
}
