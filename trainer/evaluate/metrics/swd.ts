// Sliced Wasserstein distance between two sets of 2D images over a Laplacian
// pyramid (Karras et al. 2018, "Progressive Growing of GANs", §5 and their
// sliced_wasserstein.py): no pretrained network, so it works offline and on
// medical images.
//   1. Each image becomes a Laplacian pyramid (5-tap binomial filter
//      [1 4 6 4 1] / 16, down to `minSize` pixels).
//   2. Per level, `patches` random 7x7 neighbourhoods are drawn from each set
//      (image and position from a seeded stream; the same draws for both
//      sets, so a set compared with itself scores exactly 0).
//   3. Descriptors are normalised per set (mean 0, std 1 over the set's
//      descriptors), as their finalize_descriptors does.
//   4. Per level: `projections` random unit directions; project, sort both
//      sets' projections, mean absolute difference, averaged over directions.
// Values are reported x 1e3, as in the paper's tables; `mean` averages the levels.
import { Rng } from '../../../shared/rng.ts';
import { checkSet, checkShape, type Shape } from './common.ts';

const PATCH = 7;
const BINOMIAL = [1, 4, 6, 4, 1].map((v) => v / 16);

export interface SwdOptions {
  /** Random patches per set and level; default 2048. */
  patches?: number;
  /** Random directions per level; default 256. */
  projections?: number;
  /** Coarsest pyramid level's smaller side, at least 7 (a patch); default 16 as in the paper. */
  minSize?: number;
  seed?: number;
}

export interface SwdResult {
  /** Per pyramid level, finest first, x 1e3. */
  levels: number[];
  mean: number;
}

type Image = { data: Float32Array; h: number; w: number };

/** Separable binomial blur with edge clamping. */
function blur(im: Image): Image {
  const { h, w } = im;
  const tmp = new Float32Array(h * w);
  const out = new Float32Array(h * w);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) tmp[y * w + x] = BINOMIAL.reduce((s, t, k) => s + t * im.data[y * w + clamp(x + k - 2, w)], 0);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = BINOMIAL.reduce((s, t, k) => s + t * tmp[clamp(y + k - 2, h) * w + x], 0);
  return { data: out, h, w };
}

/** Laplacian pyramid, finest first: G_k - up(G_{k+1}), then the coarsest Gaussian level. */
export function laplacianPyramid(data: Float32Array, shape: [number, number], minSize: number): Float32Array[] {
  const levels: Image[] = [];
  let g: Image = { data, h: shape[0], w: shape[1] };
  while (Math.min(g.h, g.w) >= 2 * minSize) {
    const b = blur(g);
    const h = g.h >> 1;
    const w = g.w >> 1;
    const down = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) down[y * w + x] = b.data[2 * y * g.w + 2 * x];
    // Upsample by zero insertion then blur x4 (the standard pyrUp).
    const up = new Float32Array(g.h * g.w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) up[2 * y * g.w + 2 * x] = 4 * down[y * w + x];
    const upBlurred = blur({ data: up, h: g.h, w: g.w }).data;
    levels.push({ data: g.data.map((v, i) => v - upBlurred[i]), h: g.h, w: g.w });
    g = { data: down, h, w };
  }
  levels.push(g);
  return levels.map((l) => l.data);
}

/** The 2D slices of a volume [D, H, W] along `axis` (0: axial, 1: coronal, 2: sagittal). */
export function slicesOf(volume: Float32Array, shape: [number, number, number], axis: 0 | 1 | 2): Float32Array[] {
  const [d, h, w] = shape;
  const n = shape[axis];
  return Array.from({ length: n }, (_, k) => {
    if (axis === 0) return volume.slice(k * h * w, (k + 1) * h * w);
    const out = new Float32Array(axis === 1 ? d * w : d * h);
    let i = 0;
    for (let z = 0; z < d; z++) {
      if (axis === 1) for (let x = 0; x < w; x++) out[i++] = volume[(z * h + k) * w + x];
      else for (let y = 0; y < h; y++) out[i++] = volume[(z * h + y) * w + k];
    }
    return out;
  });
}

/** `count` 7x7 descriptors [count, 49] of one pyramid level across a set, normalised over the set. */
function descriptors(levels: Float32Array[], h: number, w: number, count: number, rng: Rng): Float64Array {
  const out = new Float64Array(count * PATCH * PATCH);
  for (let p = 0; p < count; p++) {
    const im = levels[rng.int(levels.length)];
    const y0 = rng.int(h - PATCH + 1);
    const x0 = rng.int(w - PATCH + 1);
    for (let y = 0; y < PATCH; y++) for (let x = 0; x < PATCH; x++) out[(p * PATCH + y) * PATCH + x] = im[(y0 + y) * w + x0 + x];
  }
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length;
  let variance = 0;
  for (const v of out) variance += (v - mean) ** 2;
  const std = Math.sqrt(variance / out.length) || 1; // a constant level stays 0 rather than NaN
  return out.map((v) => (v - mean) / std);
}

/** SWD between image sets `a` and `b` of one 2D shape (see the top of this file). */
export function slicedWasserstein(a: readonly Float32Array[], b: readonly Float32Array[], shape: Shape, opts: SwdOptions = {}): SwdResult {
  checkShape(shape);
  if (shape.length !== 2) throw new Error(`shape: SWD takes 2D images [H, W]; pass volumes as slices (slicesOf), got [${shape.join(', ')}]`);
  checkSet(a, shape, 'a');
  checkSet(b, shape, 'b');
  const patches = opts.patches ?? 2048;
  const projections = opts.projections ?? 256;
  const minSize = opts.minSize ?? 16;
  for (const [name, v, min] of [['patches', patches, 2], ['projections', projections, 1], ['minSize', minSize, PATCH]] as const) {
    if (!(Number.isInteger(v) && v >= min)) throw new Error(`${name}: expected an integer >= ${min}, got ${v}`);
  }
  const [h, w] = shape as [number, number];
  if (Math.min(h, w) < PATCH) throw new Error(`shape: images must be at least ${PATCH}x${PATCH} for ${PATCH}x${PATCH} patches, got [${h}, ${w}]`);
  const seed = opts.seed ?? 0;
  const pyramids = (set: readonly Float32Array[]) => set.map((x) => laplacianPyramid(x, [h, w], minSize));
  const pa = pyramids(a);
  const pb = pyramids(b);
  const dim = PATCH * PATCH;
  const levels: number[] = [];
  for (let l = 0; l < pa[0].length; l++) {
    const lh = h >> l;
    const lw = w >> l;
    if (Math.min(lh, lw) < PATCH) break;
    // The same stream for both sets: identical sets draw identical patches.
    const da = descriptors(pa.map((p) => p[l]), lh, lw, patches, new Rng(seed, 1 + l));
    const db = descriptors(pb.map((p) => p[l]), lh, lw, patches, new Rng(seed, 1 + l));
    const dirs = new Rng(seed, 1000 + l).normal(projections * dim);
    let total = 0;
    const projA = new Float64Array(patches);
    const projB = new Float64Array(patches);
    for (let k = 0; k < projections; k++) {
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += dirs[k * dim + j] ** 2;
      norm = Math.sqrt(norm);
      for (let p = 0; p < patches; p++) {
        let sa = 0;
        let sb = 0;
        for (let j = 0; j < dim; j++) {
          const d = dirs[k * dim + j] / norm;
          sa += d * da[p * dim + j];
          sb += d * db[p * dim + j];
        }
        projA[p] = sa;
        projB[p] = sb;
      }
      projA.sort();
      projB.sort();
      let s = 0;
      for (let p = 0; p < patches; p++) s += Math.abs(projA[p] - projB[p]);
      total += s / patches;
    }
    levels.push((total / projections) * 1e3);
  }
  return { levels, mean: levels.reduce((s, v) => s + v, 0) / levels.length };
}
