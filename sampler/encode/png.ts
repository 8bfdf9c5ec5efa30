// PNG output of one 2D image: real-unit values windowed by `image.range` to
// 8- or 16-bit grey or RGB. The helpers here are shared with the montage.
import { encode } from 'fast-png';
import { checkImages, type GeneratedImage } from './types.ts';

export interface PngOptions {
  /** Bits per sample; default 8. */
  bitDepth?: 8 | 16;
}

export type Pixels = Uint8Array | Uint16Array;

/** Runs the shared checks plus PNG's own (1 or 3 channels, lo < hi); returns the common shape. */
export function checkPngImages(images: readonly GeneratedImage[]): number[] {
  const shape = checkImages(images);
  const channels = shape[shape.length - 1];
  if (channels !== 1 && channels !== 3) throw new Error(`PNG output needs 1 (grey) or 3 (RGB) channels; got ${channels} (shape [${shape.join(', ')}])`);
  images.forEach(({ range: [lo, hi] }, i) => {
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new Error(`image ${i}: range [${lo}, ${hi}] must be finite with lo < hi`);
  });
  return shape;
}

/** A zeroed pixel buffer of `size` samples at the bit depth (throws on any other depth). */
export function pixelBuffer(size: number, bitDepth: number | undefined): Pixels {
  if (bitDepth === undefined || bitDepth === 8) return new Uint8Array(size);
  if (bitDepth === 16) return new Uint16Array(size);
  throw new Error(`bitDepth must be 8 or 16; got ${bitDepth}`);
}

/**
 * Maps `count` values of `image.data` from index `from` linearly from
 * `image.range` onto [0, max sample], clipped and rounded, into `out` at `to`.
 */
export function quantize(image: GeneratedImage, from: number, count: number, out: Pixels, to: number): void {
  const max = out instanceof Uint16Array ? 65535 : 255;
  const [lo, hi] = image.range;
  const span = hi - lo;
  const src = image.data;
  for (let k = 0; k < count; k++) {
    // Dividing first keeps the midpoint exactly max / 2 (a tie that rounds up).
    const v = ((src[from + k] - lo) / span) * max;
    out[to + k] = v <= 0 ? 0 : v >= max ? max : Math.round(v);
  }
}

export function writePng(pixels: Pixels, width: number, height: number, channels: number): Uint8Array {
  return encode({ width, height, channels, depth: pixels instanceof Uint16Array ? 16 : 8, data: pixels });
}

/** One 2D image [H, W, 1 | 3] as a PNG. */
export function encodePng(image: GeneratedImage, opts: PngOptions = {}): Uint8Array {
  const shape = checkPngImages([image]);
  if (shape.length !== 3) throw new Error(`a single PNG needs a 2D image [H, W, C]; got shape [${shape.join(', ')}] (volumes go to a montage)`);
  const [height, width, channels] = shape;
  const pixels = pixelBuffer(image.data.length, opts.bitDepth);
  quantize(image, 0, image.data.length, pixels, 0);
  return writePng(pixels, width, height, channels);
}
