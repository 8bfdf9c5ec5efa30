// Display of generated images: a 2D image, or the axial, coronal and sagittal
// slices of a volume, windowed (level/width in real units) to RGBA pixels for
// a canvas. Pure functions: no DOM.
//
// Axes: a volume is [D, H, W, C] with W fastest (sampler/encode/types.ts).
// Axial slices (fixed d) show rows h, columns w. Coronal (fixed h) and
// sagittal (fixed w) slices show depth vertically with the last slice on top,
// the way radiology viewers put superior up when depth runs inferior to superior.
import type { GeneratedImage } from '../encode/types.ts';

export const PLANES = ['axial', 'coronal', 'sagittal'] as const;
export type Plane = (typeof PLANES)[number];

/** A display window in the image's real units: values in [level - width/2, level + width/2] map to black..white. */
export interface DisplayWindow {
  level: number;
  width: number;
}

export interface SliceGeometry {
  width: number;
  height: number;
  /** Slices along the plane's normal (1 for a 2D image). */
  count: number;
  /** Physical width over height, from the voxel spacing: how wide to draw the slice. */
  aspect: number;
}

export interface RgbaSlice {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major from the top-left: ready for an ImageData. */
  data: Uint8ClampedArray;
}

/** The model's own intensity range as the window. */
export function defaultWindow(image: GeneratedImage): DisplayWindow {
  const [lo, hi] = image.range;
  return { level: (lo + hi) / 2, width: hi - lo };
}

export function isVolume(image: GeneratedImage): boolean {
  return image.shape.length === 4;
}

/** The planes an image has: one for 2D, three for a volume. */
export function planesOf(image: GeneratedImage): readonly Plane[] {
  return isVolume(image) ? PLANES : ['axial'];
}

/** Dims [D, H, W, C] and spacing [sD, sH, sW], a 2D image being one slice deep. */
function dims(image: GeneratedImage): { d: number; h: number; w: number; c: number; sd: number; sh: number; sw: number } {
  const [d, h, w, c] = isVolume(image) ? image.shape : [1, ...image.shape];
  const [sd, sh, sw] = isVolume(image) ? image.spacing : [1, ...image.spacing];
  return { d, h, w, c, sd, sh, sw };
}

export function sliceGeometry(image: GeneratedImage, plane: Plane): SliceGeometry {
  const { d, h, w, sd, sh, sw } = dims(image);
  if (!isVolume(image) && plane !== 'axial') throw new Error(`a 2D image has no ${plane} slices`);
  switch (plane) {
    case 'axial':
      return { width: w, height: h, count: d, aspect: (w * sw) / (h * sh) };
    case 'coronal':
      return { width: w, height: d, count: h, aspect: (w * sw) / (d * sd) };
    case 'sagittal':
      return { width: h, height: d, count: w, aspect: (h * sh) / (d * sd) };
  }
}

/** Slice `index` of `plane` as RGBA through `win` (grey for 1 channel, RGB for 3, else channel 0). */
export function renderSlice(image: GeneratedImage, plane: Plane, index: number, win: DisplayWindow): RgbaSlice {
  const g = sliceGeometry(image, plane);
  if (!Number.isInteger(index) || index < 0 || index >= g.count) throw new Error(`${plane} slice ${index} is outside [0, ${g.count - 1}]`);
  if (!(win.width > 0) || !Number.isFinite(win.level)) throw new Error(`window width must be > 0 and level finite; got level ${win.level}, width ${win.width}`);
  const { d, h, w, c } = dims(image);
  const src = image.data;
  const lo = win.level - win.width / 2;
  const scale = 255 / win.width;
  const out = new Uint8ClampedArray(g.width * g.height * 4);
  // Offset of voxel (z, y, x) channel 0.
  const at = (z: number, y: number, x: number) => ((z * h + y) * w + x) * c;
  for (let row = 0; row < g.height; row++) {
    for (let col = 0; col < g.width; col++) {
      let offset: number;
      if (plane === 'axial') offset = at(index, row, col);
      else if (plane === 'coronal') offset = at(d - 1 - row, index, col);
      else offset = at(d - 1 - row, col, index);
      const p = (row * g.width + col) * 4;
      // Uint8ClampedArray clamps to [0, 255] and rounds.
      if (c === 3) for (let k = 0; k < 3; k++) out[p + k] = (src[offset + k] - lo) * scale;
      else out[p] = out[p + 1] = out[p + 2] = (src[offset] - lo) * scale;
      out[p + 3] = 255;
    }
  }
  return { width: g.width, height: g.height, data: out };
}
