// Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) in 2D and 3D:
//   SSIM = l * cs,  l = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1),
//   cs = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2),  C1 = (K1 L)^2, C2 = (K2 L)^2,
// local statistics from a separable Gaussian window (sigma 1.5, 11 taps)
// applied 'valid' (no padding), as skimage and pytorch_msssim do. Images
// smaller than the window along an axis get the largest odd window that
// fits, with sigma scaled in proportion (11 -> 1.5), so tiny slices still
// have a defined SSIM.
import { checkImage, checkRange, checkShape, sizeOf, type Shape } from './common.ts';

export const K1 = 0.01;
export const K2 = 0.03;
const WINDOW = 11;
const SIGMA = 1.5;

/** Normalised 1D Gaussian taps for an axis of `size` voxels. */
export function gaussianWindow(size: number): Float64Array {
  const n = Math.min(WINDOW, size % 2 ? size : size - 1);
  const sigma = (SIGMA * n) / WINDOW;
  const w = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += w[i] = Math.exp(-((i - (n - 1) / 2) ** 2) / (2 * sigma * sigma));
  return w.map((v) => v / sum);
}

/** 'valid' correlation of x (over `shape`) with `taps` along `axis`; returns the data and its shape. */
function filterAxis(x: Float64Array, shape: number[], axis: number, taps: Float64Array): [Float64Array, number[]] {
  const n = shape[axis];
  const out = [...shape];
  out[axis] = n - taps.length + 1;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const y = new Float64Array(sizeOf(out));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < out[axis]; i++) {
      for (let k = 0; k < taps.length; k++) {
        const t = taps[k];
        const src = (o * n + i + k) * inner;
        const dst = (o * out[axis] + i) * inner;
        for (let j = 0; j < inner; j++) y[dst + j] += t * x[src + j];
      }
    }
  }
  return [y, out];
}

/** Gaussian-weighted local means over every window position ('valid'). */
function blur(x: Float64Array, shape: Shape): Float64Array {
  let data = x;
  let s = [...shape];
  for (let axis = 0; axis < shape.length; axis++) [data, s] = filterAxis(data, s, axis, gaussianWindow(shape[axis]));
  return data;
}

/** Mean SSIM and mean contrast-structure term cs (MS-SSIM's per-scale factor). */
export function ssimTerms(a: Float32Array, b: Float32Array, shape: Shape, range: number): { ssim: number; cs: number } {
  const x = Float64Array.from(a);
  const y = Float64Array.from(b);
  const mx = blur(x, shape);
  const my = blur(y, shape);
  const xx = blur(x.map((v) => v * v), shape);
  const yy = blur(y.map((v) => v * v), shape);
  const xy = blur(x.map((v, i) => v * y[i]), shape);
  const c1 = (K1 * range) ** 2;
  const c2 = (K2 * range) ** 2;
  let ssim = 0;
  let cs = 0;
  for (let i = 0; i < mx.length; i++) {
    const vx = xx[i] - mx[i] * mx[i];
    const vy = yy[i] - my[i] * my[i];
    const cov = xy[i] - mx[i] * my[i];
    const c = (2 * cov + c2) / (vx + vy + c2);
    cs += c;
    ssim += ((2 * mx[i] * my[i] + c1) / (mx[i] * mx[i] + my[i] * my[i] + c1)) * c;
  }
  return { ssim: ssim / mx.length, cs: cs / mx.length };
}

/** Mean SSIM of two images (2D [H, W] or 3D [D, H, W]) of data spanning `range`. */
export function ssim(a: Float32Array, b: Float32Array, shape: Shape, range: number): number {
  checkShape(shape);
  checkRange(range);
  checkImage(a, shape, 'a');
  checkImage(b, shape, 'b');
  return ssimTerms(a, b, shape, range).ssim;
}
