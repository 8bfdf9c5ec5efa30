// The image record every encoder takes, and the checks all of them share, so
// PNG and NIfTI reject the same malformed input with the same message.

export interface GeneratedImage {
  /** Row-major values in real units (e.g. HU for CT), over `shape`. */
  data: Float32Array;
  /** Spatial dims then channels: [H, W, C] (2D) or [D, H, W, C] (3D). W varies fastest. */
  shape: number[];
  /** Voxel spacing in mm per spatial dim, same order as shape without channels: [sH, sW] or [sD, sH, sW]. */
  spacing: number[];
  modality: 'xray' | 'mri' | 'ct';
  /** Unit label of the values ('HU' for CT, may be ''). */
  unit: string;
  /** The real-unit range [lo, hi] that the model's [-1, 1] maps to (a sensible display window). */
  range: [number, number];
}

const fmt = (a: readonly number[]) => `[${a.join(', ')}]`;

/**
 * Throws unless `images` is non-empty, every shape is [H, W, C] or [D, H, W, C]
 * of positive integers matching its data length, all shapes are equal, and all
 * values are finite. Returns the common shape.
 */
export function checkImages(images: readonly GeneratedImage[]): number[] {
  if (images.length === 0) throw new Error('no images to encode: expected at least one');
  const shape = images[0].shape;
  images.forEach((image, i) => {
    const s = image.shape;
    if ((s.length !== 3 && s.length !== 4) || !s.every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error(`image ${i}: shape ${fmt(s)} must be [H, W, C] or [D, H, W, C] of positive integers`);
    }
    if (s.length !== shape.length || s.some((n, k) => n !== shape[k])) {
      throw new Error(`image ${i}: shape ${fmt(s)} differs from image 0's ${fmt(shape)}; all images must share one shape`);
    }
    const size = s.reduce((a, b) => a * b, 1);
    if (image.data.length !== size) throw new Error(`image ${i}: data has ${image.data.length} values but shape ${fmt(s)} needs ${size}`);
    const data = image.data;
    for (let k = 0; k < data.length; k++) {
      // v - v is NaN for NaN and for +-Infinity, 0 otherwise.
      if (data[k] - data[k] !== 0) throw new Error(`image ${i}: non-finite value ${data[k]} at index ${k}; expected finite values`);
    }
  });
  return shape;
}
