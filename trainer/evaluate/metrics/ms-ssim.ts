// Multi-scale SSIM (Wang, Simoncelli and Bovik 2003, "Multi-scale structural
// similarity for image quality assessment", eq. 7), 2D and 3D:
//   MS-SSIM = [l_M]^{a_M} prod_{j=1..M} [cs_j]^{b_j}  =  ssim_M^{w_M} prod_{j<M} cs_j^{w_j},
// scale 1 the input, each next scale a 2x average pool of the last (per axis;
// an odd last row/column/slice is dropped, as MONAI's avg_pool without
// padding does), SSIM and cs as in ssim.ts, and the paper's exponents
// w = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] (finest first).
// Hand-written: no maintained JS package computes it, let alone in 3D and at
// the reduced scale count small images need (below).
//
// Scales for small images: the paper's 5 scales need a 176-pixel side (the
// 11-tap window at 1/16 size). Ours are 64x64 slices and 32^3 volumes, so M is
// the largest number of scales (at most 5) whose coarsest scale still has a
// smallest side of at least 8 voxels:
//   M = min(5, 1 + floor(log2(s / 8)))  for the smallest side s >= 8, else 1,
// i.e. 64 -> 4 scales (64..8), 32^3 -> 3 (32..8), 16 -> 2. At 8 voxels the
// window is 7 taps (ssim.ts), still a local statistic; at 4 it would be 3 taps
// of sigma 0.4, almost a per-pixel comparison. The first M weights (the finest
// scales: the coarsest are the ones dropped) are renormalised to sum to 1, so
// MS-SSIM stays in [0, 1] with 1 for identical inputs.
//
// Negative terms: cs_j (and the final SSIM) are clamped at 0 before the
// powers, relu(mean cs), exactly as pytorch_msssim's ms_ssim and MONAI's
// MultiScaleSSIMMetric do, so anti-correlated images give 0 rather than NaN
// from a negative base to a fractional power.
//
// meanPairwiseMsSsim is the diversity figure of Medical Diffusion (Khader et
// al. 2022, "Medical Diffusion": MS-SSIM among generated samples beside
// MS-SSIM among real images): a generator whose samples are more alike
// than real images are (higher value) has lost variety.
import { z } from 'zod';
import { parseConfig } from '../../../shared/config.ts';
import { Rng } from '../../../shared/rng.ts';
import { checkRange, checkSet, checkShape, checkValues, MetricError, sizeOf, type Shape } from './common.ts';
import { ssimTermsUnchecked } from './ssim.ts';

export const MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] as const;
/** Smallest side kept at the coarsest scale by the automatic scale count. */
export const MIN_COARSEST_SIDE = 8;

/** The automatic number of scales for `shape` (see the top of this file). */
export function msSsimScales(shape: Shape): number {
  let side = Math.min(...shape);
  let scales = 1;
  while (scales < MS_SSIM_WEIGHTS.length && Math.floor(side / 2) >= MIN_COARSEST_SIDE) {
    side = Math.floor(side / 2);
    scales++;
  }
  return scales;
}

/** The exponents of `scales` scales: the paper's first `scales` weights, renormalised to sum to 1. */
export function msSsimWeights(scales: number): number[] {
  const w = MS_SSIM_WEIGHTS.slice(0, scales);
  const total = w.reduce((s, v) => s + v, 0);
  return w.map((v) => v / total);
}

/** 2x average pooling along every axis of `shape` (an odd last row, column or slice is dropped). */
export function downsample2x(x: Float32Array, shape: Shape): { data: Float32Array; shape: number[] } {
  if (shape.some((n) => n < 2)) throw new MetricError('shape', `cannot halve [${shape.join(', ')}]: every side must be at least 2`);
  const out = shape.map((n) => n >> 1);
  const data = new Float32Array(sizeOf(out));
  if (shape.length === 2) {
    const w = shape[1];
    const [oh, ow] = out;
    for (let y = 0; y < oh; y++) {
      for (let x2 = 0; x2 < ow; x2++) {
        const i = 2 * y * w + 2 * x2;
        data[y * ow + x2] = (x[i] + x[i + 1] + x[i + w] + x[i + w + 1]) / 4;
      }
    }
  } else {
    const [, h, w] = shape;
    const [od, oh, ow] = out;
    const plane = h * w;
    for (let z = 0; z < od; z++) {
      for (let y = 0; y < oh; y++) {
        for (let x2 = 0; x2 < ow; x2++) {
          const i = 2 * z * plane + 2 * y * w + 2 * x2;
          const j = i + plane;
          data[(z * oh + y) * ow + x2] = (x[i] + x[i + 1] + x[i + w] + x[i + w + 1] + x[j] + x[j + 1] + x[j + w] + x[j + w + 1]) / 8;
        }
      }
    }
  }
  return { data, shape: out };
}

export const MsSsimOptionsSchema = z.object({
  /** Scales M (1..5); default the automatic count for the shape (msSsimScales). */
  scales: z.number().int().min(1).max(MS_SSIM_WEIGHTS.length).optional(),
});
export type MsSsimOptions = z.input<typeof MsSsimOptionsSchema>;

/** The scale count to use, checking that `shape` can be halved scales - 1 times. */
function resolveScales(shape: Shape, scales: number | undefined): number {
  const m = scales ?? msSsimScales(shape);
  if (Math.min(...shape) >> (m - 1) < 1) throw new MetricError('scales', `${m} scales halve [${shape.join(', ')}] below one voxel; at most ${Math.floor(Math.log2(Math.min(...shape))) + 1}`);
  return m;
}

function msSsimUnchecked(a: Float32Array, b: Float32Array, shape: Shape, range: number, scales: number): number {
  const weights = msSsimWeights(scales);
  let x = { data: a, shape: [...shape] };
  let y = { data: b, shape: [...shape] };
  let result = 1;
  for (let j = 0; j < scales; j++) {
    const { ssim, cs } = ssimTermsUnchecked(x.data, y.data, x.shape, range);
    result *= Math.max(0, j === scales - 1 ? ssim : cs) ** weights[j];
    if (j < scales - 1) {
      x = downsample2x(x.data, x.shape);
      y = downsample2x(y.data, y.shape);
    }
  }
  return result;
}

/** MS-SSIM in [0, 1] of two images [H, W] or volumes [D, H, W] whose data span `range`. */
export function msSsim(a: Float32Array, b: Float32Array, shape: Shape, range: number, options: MsSsimOptions = {}): number {
  const o = parseConfig(MsSsimOptionsSchema, options, '');
  checkShape(shape);
  checkRange(range);
  checkValues(a, sizeOf(shape), 'a');
  checkValues(b, sizeOf(shape), 'b');
  return msSsimUnchecked(a, b, shape, range, resolveScales(shape, o.scales));
}

export const PairwiseOptionsSchema = MsSsimOptionsSchema.extend({
  /** The data range (2 for model space [-1, 1]). */
  range: z.number(),
  /** Most pairs compared; beyond it, a seeded random subset of this many distinct pairs. */
  maxPairs: z.number().int().min(1).max(1_000_000).default(200),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
});
export type PairwiseOptions = z.input<typeof PairwiseOptionsSchema>;

/**
 * The pairs (i < j) of `n` images compared: all n (n - 1) / 2 when that is at
 * most `maxPairs`, otherwise `maxPairs` distinct pairs drawn uniformly from a
 * seeded stream (an ordered pair of distinct indices, then unordered).
 */
export function samplePairs(n: number, maxPairs: number, seed: number): [number, number][] {
  const total = (n * (n - 1)) / 2;
  const pairs: [number, number][] = [];
  if (total <= maxPairs) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push([i, j]);
    return pairs;
  }
  const rng = new Rng(seed);
  const seen = new Set<number>();
  while (pairs.length < maxPairs) {
    const i = rng.int(n);
    let j = rng.int(n - 1);
    if (j >= i) j++;
    const [lo, hi] = i < j ? [i, j] : [j, i];
    if (seen.has(lo * n + hi)) continue;
    seen.add(lo * n + hi);
    pairs.push([lo, hi]);
  }
  return pairs;
}

/** Mean MS-SSIM over pairs of distinct images of `images` (at least 2; see samplePairs for which pairs). */
export function meanPairwiseMsSsim(images: readonly Float32Array[], shape: Shape, options: PairwiseOptions): number {
  const o = parseConfig(PairwiseOptionsSchema, options, '');
  checkShape(shape);
  checkRange(o.range);
  checkSet(images, sizeOf(shape), 'images');
  if (images.length < 2) throw new MetricError('images', `MS-SSIM among images needs at least 2, got ${images.length}`);
  const scales = resolveScales(shape, o.scales);
  const pairs = samplePairs(images.length, o.maxPairs, o.seed);
  let sum = 0;
  for (const [i, j] of pairs) sum += msSsimUnchecked(images[i], images[j], shape, o.range, scales);
  return sum / pairs.length;
}
