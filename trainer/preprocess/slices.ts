// 2D slices from volumes along a chosen axis, skipping (nearly) empty ones.
//
// Axes name the stored [D, H, W] order (readers never reorient, so 'axial' is
// the D axis of the file, which is axial for the usual NIfTI/DICOM layouts):
//   axial    = D: slice [H, W], spacing [sD, sH, sW]
//   coronal  = H: slice [D, W], spacing [sH, sD, sW]
//   sagittal = W: slice [D, H], spacing [sW, sD, sH]
// Each slice is a [1, rows, cols] Volume whose first spacing is the slice
// thickness (the spacing along the slicing axis). Rows and columns keep the
// stored order: no flips or transposes are applied.
import type { Volume } from '../data/types.ts';
import { assertMask, assertVolume, PreprocessError, type Shape3 } from './common.ts';
import { foregroundMask, type ForegroundOptions } from './window.ts';

export const SLICE_AXES = { axial: 0, coronal: 1, sagittal: 2 } as const;
export type SliceAxis = keyof typeof SLICE_AXES;

/** The axis index (0 = D, 1 = H, 2 = W) of a slice axis name; throws on unknown names. */
export function sliceAxisIndex(axis: string): 0 | 1 | 2 {
  if (!Object.hasOwn(SLICE_AXES, axis)) throw new Error(`unknown slice axis "${axis}"; axes: ${Object.keys(SLICE_AXES).join(', ')}`);
  return SLICE_AXES[axis as SliceAxis];
}

/** The two in-plane axes of a slice along `axis`, in (rows, cols) order. */
export function planeAxes(axis: 0 | 1 | 2): [number, number] {
  return axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
}

export interface Slice extends Volume {
  axis: SliceAxis;
  /** Index along the slicing axis in the source volume. */
  index: number;
}

export interface SliceOptions {
  /** Default 'axial'. */
  axis?: SliceAxis;
  /** Slices whose foreground fraction is below this are skipped. Default 0.05; 0 keeps every slice. */
  minForeground?: number;
  /** Foreground per voxel of the volume; default foregroundMask(volume, foreground) when minForeground > 0. */
  mask?: Uint8Array;
  foreground?: ForegroundOptions;
}

export interface SliceResult {
  slices: Slice[];
  /** Mask of each kept slice ([rows * cols], same order as `slices`), when a mask was used. */
  masks: Uint8Array[];
  /** Indices of the slices skipped as (nearly) empty. */
  skipped: number[];
}

/** One slice (data copy and its mask, if given) at `index` along `axis` (0 = D, 1 = H, 2 = W). */
function take<T extends Float32Array | Uint8Array>(data: T, shape: Shape3, axis: 0 | 1 | 2, index: number): T {
  const [D, H, W] = shape;
  if (axis === 0) return data.slice(index * H * W, (index + 1) * H * W) as T;
  const [r, c] = planeAxes(axis);
  const out = (data instanceof Float32Array ? new Float32Array(shape[r] * shape[c]) : new Uint8Array(shape[r] * shape[c])) as T;
  if (axis === 1) {
    for (let d = 0; d < D; d++) out.set(data.subarray((d * H + index) * W, (d * H + index + 1) * W), d * W);
  } else {
    for (let d = 0; d < D; d++) for (let h = 0; h < H; h++) out[d * H + h] = data[(d * H + h) * W + index];
  }
  return out;
}

/** The slices of `volume` along `opts.axis` with enough foreground (see SliceOptions). */
export function extractSlices(volume: Volume, opts: SliceOptions = {}): SliceResult {
  assertVolume(volume);
  const name = opts.axis ?? 'axial';
  const axis = sliceAxisIndex(name);
  const minForeground = opts.minForeground ?? 0.05;
  if (!(minForeground >= 0 && minForeground <= 1)) throw new Error(`slices: minForeground must be in [0, 1], got ${minForeground}`);
  if (volume.shape[0] === 1 && axis !== 0) {
    throw new PreprocessError([volume.source], `a 2D image [1, ${volume.shape[1]}, ${volume.shape[2]}] has only an axial slice, not ${name}`);
  }
  const mask = opts.mask ? assertMask(volume, opts.mask) : minForeground > 0 ? foregroundMask(volume, opts.foreground) : undefined;
  const [r, c] = planeAxes(axis);
  const rows = volume.shape[r];
  const cols = volume.shape[c];
  const spacing: Shape3 = [volume.spacing[axis], volume.spacing[r], volume.spacing[c]];
  const out: SliceResult = { slices: [], masks: [], skipped: [] };
  for (let index = 0; index < volume.shape[axis]; index++) {
    let sliceMask: Uint8Array | undefined;
    if (mask) {
      sliceMask = take(mask, volume.shape, axis, index);
      let count = 0;
      for (let j = 0; j < sliceMask.length; j++) count += sliceMask[j];
      if (count / sliceMask.length < minForeground) {
        out.skipped.push(index);
        continue;
      }
      out.masks.push(sliceMask);
    }
    out.slices.push({
      data: take(volume.data, volume.shape, axis, index),
      shape: [1, rows, cols],
      spacing: [...spacing],
      ...(volume.modality ? { modality: volume.modality } : {}),
      source: `${volume.source}#${name}=${index}`,
      ...(volume.notes ? { notes: [...volume.notes] } : {}),
      axis: name,
      index,
    });
  }
  return out;
}
