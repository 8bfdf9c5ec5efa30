// Multi-scale SSIM (Wang, Simoncelli, Bovik 2003), 2D and 3D:
//   MS-SSIM = prod_{j < M} cs_j^{w_j} * ssim_M^{w_M},
// with 2x average pooling between scales and the paper's weights
// [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]. Our images are small (64x64
// slices, 32^3 volumes), so the number of scales adapts: M = min(5,
// floor(log2(smallest side / 4)) + 1), keeping the coarsest scale at least 4
// voxels wide, and the first M weights are renormalised to sum to 1.
// Negative cs or ssim values (anti-correlated images) are clamped to 0 before
// the powers, as pytorch_msssim does (relu), so the result is in [0, 1] and
// never NaN.
//
// meanPairwiseMsSsim is the diversity figure of Medical Diffusion (Khader et
// al. 2022): the mean MS-SSIM over pairs of a set; generated samples should
// score like real images do (much higher = mode collapse).
import { Rng } from '../../../shared/rng.ts';
import { checkImage, checkRange, checkSet, checkShape, sizeOf, type Shape } from './common.ts';
import { ssimTerms } from './ssim.ts';

export const MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/** Scales used for `shape` (see the top of this file). */
export function msSsimScales(shape: Shape): number {
  return Math.max(1, Math.min(MS_SSIM_WEIGHTS.length, Math.floor(Math.log2(Math.min(...shape) / 4)) + 1));
}

/** 2x average pooling along every axis (an odd last row, column or slice is dropped). */
export function downsample2x(x: Float32Array, shape: Shape): { data: Float32Array; shape: number[] } {
  const out = shape.map((n) => Math.max(1, n >> 1));
  const data = new Float32Array(sizeOf(out));
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const offsets: number[] = [0];
  for (let axis = 0; axis < shape.length; axis++) {
    if (shape[axis] < 2) continue;
    for (const o of [...offsets]) offsets.push(o + strides[axis]);
  }
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < data.length; i++) {
    let rem = i;
    let base = 0;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      idx[axis] = rem % out[axis];
      rem = Math.floor(rem / out[axis]);
      base += (shape[axis] < 2 ? 0 : idx[axis] * 2) * strides[axis];
    }
    let s = 0;
    for (const o of offsets) s += x[base + o];
    data[i] = s / offsets.length;
  }
  return { data, shape: out };
}

/** MS-SSIM of two images (2D [H, W] or 3D [D, H, W]) of data spanning `range`, in [0, 1]. */
export function msSsim(a: Float32Array, b: Float32Array, shape: Shape, range: number): number {
  checkShape(shape);
  checkRange(range);
  checkImage(a, shape, 'a');
  checkImage(b, shape, 'b');
  const scales = msSsimScales(shape);
  const weights = MS_SSIM_WEIGHTS.slice(0, scales);
  const total = weights.reduce((s, w) => s + w, 0);
  let x = { data: a, shape: [...shape] };
  let y = { data: b, shape: [...shape] };
  let result = 1;
  for (let j = 0; j < scales; j++) {
    const { ssim, cs } = ssimTerms(x.data, y.data, x.shape, range);
    const term = j === scales - 1 ? ssim : cs;
    result *= Math.max(0, term) ** (weights[j] / total);
    if (j < scales - 1) {
      x = downsample2x(x.data, x.shape);
      y = downsample2x(y.data, y.shape);
    }
  }
  return result;
}

export interface PairwiseOptions {
  range: number;
  /** Most pairs compared (a seeded random subset of all pairs beyond it); default 200. */
  maxPairs?: number;
  seed?: number;
}

/** Mean MS-SSIM over pairs of distinct images of `set` (at least 2). */
export function meanPairwiseMsSsim(set: readonly Float32Array[], shape: Shape, opts: PairwiseOptions): number {
  checkShape(shape);
  checkSet(set, shape, 'set');
  if (set.length < 2) throw new Error(`set: MS-SSIM among images needs at least 2, got ${set.length}`);
  const maxPairs = opts.maxPairs ?? 200;
  if (!(Number.isInteger(maxPairs) && maxPairs >= 1)) throw new Error(`maxPairs: expected a positive integer, got ${maxPairs}`);
  const pairs: [number, number][] = [];
  for (let i = 0; i < set.length; i++) for (let j = i + 1; j < set.length; j++) pairs.push([i, j]);
  if (pairs.length > maxPairs) {
    // Seeded partial Fisher-Yates: the first maxPairs of a random permutation.
    const rng = new Rng(opts.seed ?? 0, 0);
    for (let k = 0; k < maxPairs; k++) {
      const r = k + rng.int(pairs.length - k);
      [pairs[k], pairs[r]] = [pairs[r], pairs[k]];
    }
    pairs.length = maxPairs;
  }
  return pairs.reduce((s, [i, j]) => s + msSsim(set[i], set[j], shape, opts.range), 0) / pairs.length;
}
