// The evaluation's picture: rows of 2D images side by side (real held-out
// slices in one row, generated ones in the next, per class), each windowed by
// its own range. Volumes contribute their middle axial slice.
import { checkPngImages, pixelBuffer, quantize, writePng } from '../../sampler/encode/png.ts';
import type { GeneratedImage } from '../../sampler/encode/types.ts';

/** The middle axial slice [H, W, C] of a volume [D, H, W, C]; 2D images unchanged. */
export function middleSlice(image: GeneratedImage): GeneratedImage {
  if (image.shape.length === 3) return image;
  const [d, h, w, c] = image.shape;
  const size = h * w * c;
  const k = Math.floor(d / 2);
  return { ...image, data: image.data.subarray(k * size, (k + 1) * size), shape: [h, w, c], spacing: image.spacing.slice(1) };
}

/** One PNG: row r holds rows[r] left to right; tiles and rows separated by 1 pixel of 0. */
export function encodeGridPng(rows: readonly (readonly GeneratedImage[])[]): Uint8Array {
  const tiles = rows.flat().map(middleSlice);
  const [h, w, c] = checkPngImages(tiles);
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * (w + 1) - 1;
  const height = rows.length * (h + 1) - 1;
  const pixels = pixelBuffer(width * height * c, 8);
  let i = 0;
  rows.forEach((row, r) =>
    row.forEach((_, k) => {
      const tile = tiles[i++];
      for (let y = 0; y < h; y++) quantize(tile, y * w * c, w * c, pixels, ((r * (h + 1) + y) * width + k * (w + 1)) * c);
    }),
  );
  return writePng(pixels, width, height, c);
}
