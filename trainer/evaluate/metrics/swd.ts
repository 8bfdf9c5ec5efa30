// Sliced Wasserstein distance between two sets of 2D images over a Laplacian
// pyramid (Karras, Aila, Laine and Lehtinen 2018, "Progressive Growing of GANs
// for Improved Quality, Stability, and Variation", §5 and appendix D; their
// metrics/sliced_wasserstein.py). It needs no pretrained network, so it works
// offline and on medical images. Hand-written: it exists only inside Python
// research code, not as a maintained JS package.
//
//   1. Each image becomes a Laplacian pyramid: G_0 the image, G_{k+1} =
//      pyrDown(G_k), level k = G_k - pyrUp(G_{k+1}), the last level the
//      coarsest G itself. pyrDown/pyrUp are cv2's (what their code matches):
//      the 5x5 binomial filter [1 4 6 4 1]^2 / 256 with mirror boundaries
//      (reflect about the edge pixel, d c b | a b c d | c b a), keep every
//      second pixel / insert zeros and filter with 4x the kernel. Levels run
//      from the full size down while the side stays >= minSize (16, as in
//      their code: 64x64 -> levels 64, 32, 16).
//   2. Per level, `patches` 7x7 neighbourhoods (descriptors in R^49) per set.
//      Their code takes 128 per image; a fixed count per set keeps the cost
//      bounded for any set size and gives both sets equal counts (so the 1D
//      distance below is the mean gap of sorted values). Patches are spread
//      evenly over the images (patch p from image floor(p N / patches)), at
//      positions from a seeded stream that depends only on (seed, level, p):
//      both sets get the same positions, so a set against itself scores
//      exactly 0 and two sets differ only by their content.
//   3. Descriptors are normalised per set and level to mean 0, std 1 over all
//      the set's descriptor values: their finalize_descriptors, which runs on
//      each set's descriptors separately (per colour channel; ours have one).
//      So SWD compares texture/structure per frequency band, not the band's
//      overall contrast. A constant band (std 0) is left at 0, not NaN.
//   4. `projections` random directions per level (seeded normals, unit
//      length; their code uses 4 x 128 = 512), project both sets, sort, and
//      take the mean |difference| (the 1D Wasserstein-1 distance between
//      equal-size empirical distributions), averaged over directions.
// Values are multiplied by 1e3, as in the paper's tables (their SWDx1e3);
// `mean` is the average over levels (their SWDx1e3_avg).
import { z } from 'zod';
import { parseConfig } from '../../../shared/config.ts';
import { Rng } from '../../../shared/rng.ts';
import { extractSlices, SLICE_AXES, type SliceAxis } from '../../preprocess/slices.ts';
import { checkSet, checkShape, checkValues, MetricError, sizeOf, type Shape } from './common.ts';

const PATCH = 7;
const DIM = PATCH * PATCH;
/** cv2.pyrDown's 1D binomial taps (the 5x5 kernel is their outer product). */
const BINOMIAL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

export const SwdOptionsSchema = z.object({
  /** 7x7 descriptors per set and pyramid level. */
  patches: z.number().int().min(16).max(1 << 20).default(8192),
  /** Random directions per level. */
  projections: z.number().int().min(1).max(65536).default(512),
  /** The coarsest level's smallest side is at least this (their code: 16). */
  minSize: z.number().int().min(PATCH).max(65536).default(16),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
});
export type SwdOptions = z.input<typeof SwdOptionsSchema>;

export interface SwdLevel {
  /** [H, W] of the pyramid level. */
  size: [number, number];
  /** SWD x 1e3 of this level. */
  swd: number;
}

export interface SwdResult {
  /** Per pyramid level, finest (highest frequencies) first. */
  levels: SwdLevel[];
  /** Mean over levels, x 1e3. */
  mean: number;
}

/** A single-channel image [h, w]. */
export interface Plane {
  data: Float64Array;
  h: number;
  w: number;
}

/** Index `i` reflected into [0, n) about the edge pixels (scipy 'mirror', cv2 BORDER_REFLECT_101). */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

/** For each position of an axis of `n`, the 5 mirrored source indices of the filter taps. */
function tapIndices(n: number): Int32Array {
  const idx = new Int32Array(5 * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < 5; k++) idx[5 * i + k] = mirror(i + k - 2, n);
  return idx;
}

/** Separable [1 4 6 4 1] / 16 filter on both axes, times `gain`, mirror boundaries. */
function binomialFilter(p: Plane, gain: number): Plane {
  const { h, w } = p;
  const cols = tapIndices(w);
  const rowsIdx = tapIndices(h);
  const rows = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += BINOMIAL[k] * p.data[o + cols[5 * x + k]];
      rows[o + x] = s;
    }
  }
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let k = 0; k < 5; k++) {
      const t = BINOMIAL[k] * gain;
      const src = rowsIdx[5 * y + k] * w;
      for (let x = 0; x < w; x++) out[y * w + x] += t * rows[src + x];
    }
  }
  return { data: out, h, w };
}

/** cv2.pyrDown: binomial filter, then every second pixel: [h, w] -> [ceil(h/2), ceil(w/2)]. */
export function pyrDown(p: Plane): Plane {
  const f = binomialFilter(p, 1);
  const h = Math.ceil(p.h / 2);
  const w = Math.ceil(p.w / 2);
  const data = new Float64Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f.data[2 * y * p.w + 2 * x];
  return { data, h, w };
}

/** cv2.pyrUp to [h, w]: zeros between the pixels, then the binomial filter x 4 (x 2 per axis). */
export function pyrUp(p: Plane, h: number, w: number): Plane {
  const up = new Float64Array(h * w);
  for (let y = 0; y < p.h && 2 * y < h; y++) for (let x = 0; x < p.w && 2 * x < w; x++) up[2 * y * w + 2 * x] = p.data[y * p.w + x];
  return binomialFilter({ data: up, h, w }, 4);
}

/** Pyramid levels for images of `shape` [H, W]: halve while the smaller side stays >= minSize (at least 1 level). */
export function pyramidLevels(shape: readonly [number, number], minSize: number): number {
  let side = Math.min(...shape);
  let levels = 1;
  while (Math.ceil(side / 2) >= minSize) {
    side = Math.ceil(side / 2);
    levels++;
  }
  return levels;
}

/** The Laplacian pyramid of `image` [H, W], finest level first; the last level is the coarsest Gaussian level. */
export function laplacianPyramid(image: Float32Array, shape: readonly [number, number], levels: number): Plane[] {
  const out: Plane[] = [];
  let g: Plane = { data: Float64Array.from(image), h: shape[0], w: shape[1] };
  for (let k = 1; k < levels; k++) {
    const down = pyrDown(g);
    const up = pyrUp(down, g.h, g.w);
    out.push({ data: g.data.map((v, i) => v - up.data[i]), h: g.h, w: g.w });
    g = down;
  }
  out.push(g);
  return out;
}

/**
 * Descriptors [patches, 49] of each pyramid level of one set, normalised per
 * level over the set (step 3). `positions[l]` holds two uniforms per patch.
 */
function setDescriptors(set: readonly Float32Array[], shape: readonly [number, number], levels: number, patches: number, positions: Float32Array[]): Float64Array[] {
  const out = Array.from({ length: levels }, () => new Float64Array(patches * DIM));
  let image = -1;
  let pyramid: Plane[] = [];
  for (let p = 0; p < patches; p++) {
    const i = Math.floor((p * set.length) / patches); // non-decreasing in p: one pyramid at a time
    if (i !== image) {
      image = i;
      pyramid = laplacianPyramid(set[i], shape, levels);
    }
    pyramid.forEach((level, l) => {
      const y0 = Math.min(level.h - PATCH, Math.floor(positions[l][2 * p] * (level.h - PATCH + 1)));
      const x0 = Math.min(level.w - PATCH, Math.floor(positions[l][2 * p + 1] * (level.w - PATCH + 1)));
      const d = out[l];
      for (let y = 0; y < PATCH; y++) for (let x = 0; x < PATCH; x++) d[p * DIM + y * PATCH + x] = level.data[(y0 + y) * level.w + x0 + x];
    });
  }
  for (const d of out) {
    let mean = 0;
    for (let i = 0; i < d.length; i++) mean += d[i];
    mean /= d.length;
    let variance = 0;
    for (let i = 0; i < d.length; i++) variance += (d[i] - mean) ** 2;
    const std = Math.sqrt(variance / d.length) || 1;
    for (let i = 0; i < d.length; i++) d[i] = (d[i] - mean) / std;
  }
  return out;
}

const BLOCK = 4; // directions projected per pass over the descriptors (2x faster than one at a time)

/** Mean over `count` random directions of the 1D Wasserstein-1 distance between the projections of `a` and `b` [n, 49]. */
function slicedDistance(a: Float64Array, b: Float64Array, n: number, normals: Float32Array, count: number): number {
  // Unit directions [ceil(count / BLOCK) * BLOCK, 49]; the rows past `count` stay 0 and are never used.
  const u = new Float64Array(Math.ceil(count / BLOCK) * BLOCK * DIM);
  for (let k = 0; k < count; k++) {
    let norm = 0;
    for (let j = 0; j < DIM; j++) norm += normals[k * DIM + j] ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < DIM; j++) u[k * DIM + j] = normals[k * DIM + j] / norm;
  }
  const project = (x: Float64Array, k: number, out: Float64Array[]) => {
    const [o0, o1, o2, o3] = [k * DIM, (k + 1) * DIM, (k + 2) * DIM, (k + 3) * DIM];
    for (let p = 0; p < n; p++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      const o = p * DIM;
      for (let j = 0; j < DIM; j++) {
        const v = x[o + j];
        s0 += u[o0 + j] * v;
        s1 += u[o1 + j] * v;
        s2 += u[o2 + j] * v;
        s3 += u[o3 + j] * v;
      }
      out[0][p] = s0;
      out[1][p] = s1;
      out[2][p] = s2;
      out[3][p] = s3;
    }
  };
  const pa = Array.from({ length: BLOCK }, () => new Float64Array(n));
  const pb = Array.from({ length: BLOCK }, () => new Float64Array(n));
  let total = 0;
  for (let k = 0; k < count; k += BLOCK) {
    project(a, k, pa);
    project(b, k, pb);
    for (let r = 0; r < Math.min(BLOCK, count - k); r++) {
      pa[r].sort();
      pb[r].sort();
      let s = 0;
      for (let p = 0; p < n; p++) s += Math.abs(pa[r][p] - pb[r][p]);
      total += s / n;
    }
  }
  return total / count;
}

/** SWD (x 1e3) between image sets `a` and `b` of one 2D shape [H, W], per pyramid level and averaged (see the top of this file). */
export function slicedWasserstein(a: readonly Float32Array[], b: readonly Float32Array[], shape: Shape, options: SwdOptions = {}): SwdResult {
  const o = parseConfig(SwdOptionsSchema, options, '');
  checkShape(shape);
  if (shape.length !== 2) throw new MetricError('shape', `SWD takes 2D images [H, W]; pass volumes as slices (slicesOf), got [${shape.join(', ')}]`);
  const hw: [number, number] = [shape[0], shape[1]];
  if (Math.min(...hw) < PATCH) throw new MetricError('shape', `images need sides of at least ${PATCH} for ${PATCH}x${PATCH} patches, got [${hw.join(', ')}]`);
  checkSet(a, sizeOf(hw), 'a');
  checkSet(b, sizeOf(hw), 'b');
  const levels = pyramidLevels(hw, o.minSize);
  // Streams 2l + 1 (positions) and 2l + 2 (directions) of the seed, per level l.
  const positions = Array.from({ length: levels }, (_, l) => new Rng(o.seed, 2 * l + 1).uniform(2 * o.patches));
  const da = setDescriptors(a, hw, levels, o.patches, positions);
  const db = setDescriptors(b, hw, levels, o.patches, positions);
  const result: SwdLevel[] = [];
  let size = hw;
  for (let l = 0; l < levels; l++) {
    const normals = new Rng(o.seed, 2 * l + 2).normal(o.projections * DIM);
    result.push({ size, swd: slicedDistance(da[l], db[l], o.patches, normals, o.projections) * 1e3 });
    size = [Math.ceil(size[0] / 2), Math.ceil(size[1] / 2)];
  }
  return { levels: result, mean: result.reduce((s, r) => s + r.swd, 0) / levels };
}

/** The 2D slices of a volume [D, H, W] along `axis` (0 = D: [H, W] slices, 1 = H: [D, W], 2 = W: [D, H]), in order. */
export function slicesOf(volume: Float32Array, shape: readonly [number, number, number], axis: 0 | 1 | 2 = 0): Float32Array[] {
  if (shape.length !== 3) throw new MetricError('shape', `expected a volume shape [D, H, W], got [${shape.join(', ')}]`);
  checkShape(shape);
  checkValues(volume, sizeOf(shape), 'volume');
  const name = (Object.keys(SLICE_AXES) as SliceAxis[]).find((k) => SLICE_AXES[k] === axis);
  if (name === undefined) throw new MetricError('axis', `expected 0 (D), 1 (H) or 2 (W), got ${axis}`);
  const volumeRecord = { data: volume, shape: [...shape] as [number, number, number], spacing: [1, 1, 1] as [number, number, number], source: 'volume' };
  return extractSlices(volumeRecord, { axis: name, minForeground: 0 }).slices.map((s) => s.data);
}
