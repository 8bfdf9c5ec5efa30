// Trilinear resampling to the model's voxel grid, and centred crop or pad
// (DESIGN §3.4).
//
// Grids are aligned on their physical centres: with n input voxels of spacing
// s and n' output voxels of spacing s', output voxel i samples the input at
// the continuous index
//   p(i) = (i - (n' - 1) / 2) s' / s + (n - 1) / 2                      (1)
// (for a target shape, s' = n s / n' and (1) is p = (i + 1/2) n / n' - 1/2, the
// align-corners-false convention). Trilinear interpolation is done as linear
// interpolation along W, then H, then D, which is the same thing and O(N) per
// axis. Positions beyond the outermost input voxel centres take the edge
// value (clamped p), so a linear ramp stays exact wherever p lies in [0, n - 1].
//
// No low-pass filter is applied before downsampling: at factors above ~2 fine
// texture aliases. Trilinear is what the design asks for; prefilter upstream
// if that matters.
import { describeLimit, MAX_VOLUME_VOXELS } from '../data/limits.ts';
import type { Volume } from '../data/types.ts';
import { assertMask, assertVolume, fmt, PreprocessError, type Shape3 } from './common.ts';

export type ResampleTarget = { spacing: readonly number[]; shape?: never } | { shape: readonly number[]; spacing?: never };

/**
 * `volume` on a new grid with the same physical centre. With a target spacing
 * the spacing is exact and the shape is round(n s / s') (extent kept to within
 * half an output voxel at each end); with a target shape the extent n s is
 * exact and the spacing is n s / n'. Axes whose grid does not change are copied.
 */
export function resample(volume: Volume, target: ResampleTarget): Volume {
  assertVolume(volume);
  const inShape = volume.shape;
  const inSpacing = volume.spacing;
  const outShape: Shape3 = [0, 0, 0];
  const outSpacing: Shape3 = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    if (target.spacing) {
      const s = target.spacing[a];
      if (target.spacing.length !== 3 || !(Number.isFinite(s) && s > 0)) {
        throw new PreprocessError([volume.source], `resample: bad target spacing ${fmt(target.spacing)}`);
      }
      outSpacing[a] = s;
      // the 1e-9 keeps 2.0000000001 voxels from becoming 3 when an exact ratio is meant
      outShape[a] = Math.max(1, Math.round((inShape[a] * inSpacing[a]) / s - 1e-9));
    } else {
      const n = target.shape![a];
      if (target.shape!.length !== 3 || !(Number.isInteger(n) && n > 0)) {
        throw new PreprocessError([volume.source], `resample: bad target shape ${fmt(target.shape!)}`);
      }
      outShape[a] = n;
      outSpacing[a] = n === inShape[a] ? inSpacing[a] : (inShape[a] * inSpacing[a]) / n;
    }
  }
  let data = volume.data;
  let shape: Shape3 = [...inShape];
  // W, then H, then D; each pass changes one axis of `shape`.
  for (const axis of [2, 1, 0] as const) {
    if (outShape[axis] === inShape[axis] && outSpacing[axis] === inSpacing[axis]) continue;
    const next = shape.map((n, a) => (a === axis ? outShape[axis] : n)) as Shape3;
    const voxels = next[0] * next[1] * next[2];
    if (voxels > MAX_VOLUME_VOXELS) {
      throw new PreprocessError(
        [volume.source],
        `resample: ${fmt(inShape)} voxels of ${fmt(inSpacing)} mm to ${fmt(outSpacing)} mm would make a ${fmt(next)} grid, over the limit of ${describeLimit.voxels(MAX_VOLUME_VOXELS)} (MAX_VOLUME_VOXELS); check the file's voxel size`,
      );
    }
    data = resampleAxis(data, shape, axis, outShape[axis], outSpacing[axis] / inSpacing[axis]);
    shape = next;
  }
  return {
    ...volume,
    data: data === volume.data ? new Float32Array(data) : data,
    shape: outShape,
    spacing: outSpacing,
  };
}

/** Linear interpolation along `axis` to `nOut` samples at ratio = s' / s, by (1). [.., n, ..] -> [.., nOut, ..] */
function resampleAxis(data: Float32Array, shape: Shape3, axis: 0 | 1 | 2, nOut: number, ratio: number): Float32Array {
  const n = shape[axis];
  const i0 = new Int32Array(nOut);
  const i1 = new Int32Array(nOut);
  const f = new Float64Array(nOut);
  for (let i = 0; i < nOut; i++) {
    const p = Math.min(n - 1, Math.max(0, (i - (nOut - 1) / 2) * ratio + (n - 1) / 2));
    i0[i] = Math.floor(p);
    i1[i] = Math.min(i0[i] + 1, n - 1);
    f[i] = p - i0[i];
  }
  // Strides: outer (axes before), inner (axes after).
  const outer = axis === 0 ? 1 : axis === 1 ? shape[0] : shape[0] * shape[1];
  const inner = axis === 0 ? shape[1] * shape[2] : axis === 1 ? shape[2] : 1;
  const out = new Float32Array(outer * nOut * inner);
  for (let o = 0; o < outer; o++) {
    const src = o * n * inner;
    const dst = o * nOut * inner;
    for (let i = 0; i < nOut; i++) {
      const a = src + i0[i] * inner;
      const b = src + i1[i] * inner;
      const t = f[i];
      const d = dst + i * inner;
      for (let k = 0; k < inner; k++) out[d + k] = data[a + k] + t * (data[b + k] - data[a + k]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Crop or pad

/**
 * Start index (in input coordinates, may be negative = padding) of a `target`
 * window on each axis, centred on the foreground bounding box's centre when
 * `mask` has any foreground, else on the volume's centre. The window is then
 * shifted as little as needed so that a crop stays inside the data and a pad
 * keeps all the data.
 */
export function cropStart(shape: Shape3, target: Shape3, mask?: Uint8Array): Shape3 {
  const centre: Shape3 = [shape[0] / 2, shape[1] / 2, shape[2] / 2];
  const box = mask ? boundingBox(mask, shape) : null;
  if (box) for (let a = 0; a < 3; a++) centre[a] = (box.min[a] + box.max[a] + 1) / 2;
  return centre.map((c, a) => {
    const n = shape[a];
    const m = target[a];
    const start = Math.round(c - m / 2);
    return Math.min(Math.max(start, Math.min(0, n - m)), Math.max(0, n - m));
  }) as Shape3;
}

/** Inclusive voxel bounds of the set voxels, or null when none is set. */
export function boundingBox(mask: Uint8Array, shape: Shape3): { min: Shape3; max: Shape3 } | null {
  const [D, H, W] = shape;
  const min: Shape3 = [D, H, W];
  const max: Shape3 = [-1, -1, -1];
  let i = 0;
  for (let d = 0; d < D; d++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++, i++) {
        if (!mask[i]) continue;
        if (d < min[0]) min[0] = d;
        if (d > max[0]) max[0] = d;
        if (h < min[1]) min[1] = h;
        if (h > max[1]) max[1] = h;
        if (w < min[2]) min[2] = w;
        if (w > max[2]) max[2] = w;
      }
  return max[0] < 0 ? null : { min, max };
}

/** The `target`-shaped window of `data` (shape `shape`) starting at `start`; voxels outside the data get `fill`. */
export function cropOrPadAt<T extends Float32Array | Uint8Array>(data: T, shape: Shape3, target: Shape3, start: Shape3, fill: number): T {
  const [D, H, W] = shape;
  const [tD, tH, tW] = target;
  const out = (data instanceof Float32Array ? new Float32Array(tD * tH * tW) : new Uint8Array(tD * tH * tW)) as T;
  if (fill !== 0) out.fill(fill);
  // the overlapping W range is one contiguous copy per (d, h) row
  const w0 = Math.max(0, -start[2]);
  const w1 = Math.min(tW, W - start[2]);
  if (w1 <= w0) return out;
  for (let d = 0; d < tD; d++) {
    const sd = d + start[0];
    if (sd < 0 || sd >= D) continue;
    for (let h = 0; h < tH; h++) {
      const sh = h + start[1];
      if (sh < 0 || sh >= H) continue;
      const src = (sd * H + sh) * W + start[2];
      out.set(data.subarray(src + w0, src + w1), (d * tH + h) * tW + w0);
    }
  }
  return out;
}

export interface CropOrPadOptions {
  /** Value of padded voxels (in the volume's units). Default 0. */
  fill?: number;
  /** Foreground to centre on (its bounding box's centre). Default: the volume's centre. */
  mask?: Uint8Array;
}

/** `volume` cropped and/or padded to `target` [D, H, W], centred (see cropStart). Spacing is unchanged. */
export function cropOrPad(volume: Volume, target: readonly number[], opts: CropOrPadOptions = {}): Volume {
  assertVolume(volume);
  if (target.length !== 3 || !target.every((n) => Number.isInteger(n) && n > 0)) {
    throw new PreprocessError([volume.source], `cropOrPad: bad target shape ${fmt(target)}`);
  }
  const t = [...target] as Shape3;
  const start = cropStart(volume.shape, t, opts.mask && assertMask(volume, opts.mask));
  return { ...volume, data: cropOrPadAt(volume.data, volume.shape, t, start, opts.fill ?? 0), shape: t, spacing: [...volume.spacing] };
}
