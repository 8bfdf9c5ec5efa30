// Linear intensity windows to model space, and the foreground mask (DESIGN §3.4).
//
// Every forward map here is the exact inverse of shared/intensity.ts
// `toRealUnits` on the window it maps: with [lo, hi] = realRange(mapping),
//   x = 2 (v - lo) / (hi - lo) - 1, clipped to [-1, 1].
// For a CT window [lo, hi] = [level - width/2, level + width/2], so this is
//   x = (HU - level) / (width / 2);
// for min-max scaling [lo, hi] = [low, high]; for Nyul it maps the standard
// scale [scale[0], scale[last]] (nyul.ts).
import { realRange, type IntensityMapping } from '../../shared/intensity.ts';
import type { Volume } from '../data/types.ts';
import { assertVolume, percentiles, type Shape3 } from './common.ts';

/** Real units -> model space [-1, 1] (clipped): the inverse of `toRealUnits` for any mapping kind. */
export function fromRealUnits(values: Float32Array, m: IntensityMapping): Float32Array {
  const [lo, hi] = realRange(m);
  if (!(hi > lo)) throw new Error(`intensity mapping spans an empty range [${lo}, ${hi}]`);
  const half = (hi - lo) / 2;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = (values[i] - lo) / half - 1;
    out[i] = x < -1 ? -1 : x > 1 ? 1 : x; // NaN stays NaN: the caller's data was bad
  }
  return out;
}

/** CT: Hounsfield units -> [-1, 1], x = (HU - level) / (width / 2), clipped. */
export function huWindow(hu: Float32Array, level: number, width: number): Float32Array {
  if (!(width > 0)) throw new Error(`hu window: width must be > 0, got ${width}`);
  return fromRealUnits(hu, { kind: 'hu-window', level, width });
}

/** Min-max scaling: [low, high] -> [-1, 1], clipped (8-bit radiographs: low 0, high 255). */
export function minMax(values: Float32Array, low: number, high: number): Float32Array {
  return fromRealUnits(values, { kind: 'linear', low, high, unit: '' });
}

// ---------------------------------------------------------------------------
// Foreground mask

export interface ForegroundOptions {
  /** 'ct' thresholds Hounsfield units; anything else (MRI, X-ray, unknown) the robust range. Default: the volume's. */
  modality?: string;
  /** CT: voxels above this HU are foreground (air is about -1000, fat -100, water 0). Default -500. */
  huThreshold?: number;
  /**
   * Other modalities: foreground is v > lo + fraction (hi - lo), where lo and hi
   * are the 1st and 99th percentiles of the whole volume (a robust minimum and
   * maximum: an offset or a few hot voxels do not move them). Default 0.1, which
   * keeps dark tissue (CSF in T1 is ~20-30% of white matter) and drops
   * background noise of a usable scan (a few % of the tissue signal).
   */
  fraction?: number;
  /** Keep only the largest 6-connected component (drops specks, noise and detached objects). Default true. */
  largestComponent?: boolean;
  /** Fill holes in each axial (D) slice, 4-connected (ventricles, sinuses). Default true. */
  fillHoles?: boolean;
}

/** Foreground (1) / background (0) per voxel of `volume`, as described at ForegroundOptions. */
export function foregroundMask(volume: Volume, opts: ForegroundOptions = {}): Uint8Array {
  assertVolume(volume);
  const { data } = volume;
  const modality = opts.modality ?? volume.modality;
  let threshold: number;
  if (modality === 'ct') threshold = opts.huThreshold ?? -500;
  else {
    const fraction = opts.fraction ?? 0.1;
    const [lo, hi] = percentiles(data, [1, 99]);
    threshold = lo + fraction * (hi - lo);
  }
  let mask: Uint8Array = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) mask[i] = data[i] > threshold ? 1 : 0;
  if (opts.largestComponent ?? true) mask = largestComponent(mask, volume.shape);
  if (opts.fillHoles ?? true) fillHolesSlicewise(mask, volume.shape);
  return mask;
}

/** The largest 6-connected component of `mask` (all zero when the mask is empty). */
export function largestComponent(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [D, H, W] = shape;
  const HW = H * W;
  const label = new Int32Array(mask.length); // 0 = unvisited / background
  const queue = new Int32Array(mask.length);
  let best = 0;
  let bestSize = 0;
  let next = 0;
  for (let seed = 0; seed < mask.length; seed++) {
    if (!mask[seed] || label[seed]) continue;
    const id = ++next;
    let head = 0;
    let tail = 0;
    queue[tail++] = seed;
    label[seed] = id;
    while (head < tail) {
      const i = queue[head++];
      const w = i % W;
      const h = Math.floor(i / W) % H;
      const d = Math.floor(i / HW);
      // the six face neighbours
      if (w > 0 && mask[i - 1] && !label[i - 1]) (label[i - 1] = id), (queue[tail++] = i - 1);
      if (w < W - 1 && mask[i + 1] && !label[i + 1]) (label[i + 1] = id), (queue[tail++] = i + 1);
      if (h > 0 && mask[i - W] && !label[i - W]) (label[i - W] = id), (queue[tail++] = i - W);
      if (h < H - 1 && mask[i + W] && !label[i + W]) (label[i + W] = id), (queue[tail++] = i + W);
      if (d > 0 && mask[i - HW] && !label[i - HW]) (label[i - HW] = id), (queue[tail++] = i - HW);
      if (d < D - 1 && mask[i + HW] && !label[i + HW]) (label[i + HW] = id), (queue[tail++] = i + HW);
    }
    if (tail > bestSize) (bestSize = tail), (best = id);
  }
  const out = new Uint8Array(mask.length);
  if (best) for (let i = 0; i < mask.length; i++) out[i] = label[i] === best ? 1 : 0;
  return out;
}

/** In place: sets every background pixel of each D slice that the slice border cannot reach (4-connected). */
export function fillHolesSlicewise(mask: Uint8Array, shape: Shape3): Uint8Array {
  const [D, H, W] = shape;
  const HW = H * W;
  const outside = new Uint8Array(HW);
  const queue = new Int32Array(HW);
  for (let d = 0; d < D; d++) {
    const m = mask.subarray(d * HW, (d + 1) * HW);
    outside.fill(0);
    let tail = 0;
    const push = (j: number) => {
      if (!m[j] && !outside[j]) (outside[j] = 1), (queue[tail++] = j);
    };
    for (let w = 0; w < W; w++) push(w), push((H - 1) * W + w);
    for (let h = 0; h < H; h++) push(h * W), push(h * W + W - 1);
    for (let head = 0; head < tail; head++) {
      const j = queue[head];
      const w = j % W;
      const h = (j - w) / W;
      if (w > 0) push(j - 1);
      if (w < W - 1) push(j + 1);
      if (h > 0) push(j - W);
      if (h < H - 1) push(j + W);
    }
    for (let j = 0; j < HW; j++) if (!outside[j]) m[j] = 1;
  }
  return mask;
}
