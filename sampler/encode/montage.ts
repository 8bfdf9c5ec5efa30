// One PNG showing many tiles: several 2D images, or the axial slices of volumes.
//
// Layout: tiles come in groups, each laid out row-major on a grid of
// ceil(sqrt(group size)) columns and starting on a fresh row. 2D images form
// one group (a near-square grid of the images); each volume is its own group
// of slices, so several volumes stack top to bottom as row blocks of equal
// width and a volume never shares a row with the next one. Tiles are separated
// by a 1-pixel gap of 0; unused cells stay 0.
import { checkPngImages, pixelBuffer, quantize, writePng, type PngOptions } from './png.ts';
import type { GeneratedImage } from './types.ts';

export interface MontageOptions extends PngOptions {
  /** Most slices shown per volume; default 64. */
  maxSlices?: number;
}

/** Indices of at most `max` (>= 2) evenly spaced slices of `depth`, always including the first and last. */
export function pickSlices(depth: number, max: number): number[] {
  if (depth <= max) return Array.from({ length: depth }, (_, d) => d);
  // Steps of (depth - 1) / (max - 1) >= 1 round to distinct indices.
  return Array.from({ length: max }, (_, k) => Math.round((k * (depth - 1)) / (max - 1)));
}

/** 2D images [H, W, C] or volumes [D, H, W, C] (one shape for all) as one tiled PNG. */
export function encodeMontagePng(images: readonly GeneratedImage[], opts: MontageOptions = {}): Uint8Array {
  const shape = checkPngImages(images);
  const maxSlices = opts.maxSlices ?? 64;
  if (!Number.isInteger(maxSlices) || maxSlices < 2) throw new Error(`maxSlices must be an integer >= 2; got ${maxSlices}`);
  const [h, w, c] = shape.slice(-3);
  const tileSize = h * w * c;

  // Each tile is an image and the data offset of its [H, W, C] plane.
  type Tile = { image: GeneratedImage; offset: number };
  let groups: Tile[][];
  if (shape.length === 3) groups = [images.map((image) => ({ image, offset: 0 }))];
  else {
    const slices = pickSlices(shape[0], maxSlices);
    groups = images.map((image) => slices.map((d) => ({ image, offset: d * tileSize })));
  }
  const perGroup = groups[0].length;
  const cols = Math.ceil(Math.sqrt(perGroup));
  const rowsPerGroup = Math.ceil(perGroup / cols);
  const width = cols * (w + 1) - 1;
  const height = groups.length * rowsPerGroup * (h + 1) - 1;

  const pixels = pixelBuffer(width * height * c, opts.bitDepth);
  groups.forEach((group, g) =>
    group.forEach(({ image, offset }, k) => {
      const top = (g * rowsPerGroup + Math.floor(k / cols)) * (h + 1);
      const left = (k % cols) * (w + 1);
      for (let y = 0; y < h; y++) quantize(image, offset + y * w * c, w * c, pixels, ((top + y) * width + left) * c);
    }),
  );
  return writePng(pixels, width, height, c);
}
