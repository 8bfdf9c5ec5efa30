import { describe, expect, it } from 'vitest';
import type { Volume } from '../../../trainer/data/types.ts';
import { PreprocessError } from '../../../trainer/preprocess/common.ts';
import { areaResize, containFit } from '../../../trainer/preprocess/fit-image.ts';

/** A [1, h, w] image from f(y, x). */
const image = (h: number, w: number, f: (y: number, x: number) => number, source = 'cxr.png'): Volume => {
  const data = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(y, x);
  return { data, shape: [1, h, w], spacing: [1, 0.5, 0.5], source };
};

describe('areaResize', () => {
  it('averages each output pixel over exactly its input footprint (no aliasing)', () => {
    // A 1-pixel checkerboard at factor 8 is a flat 0.5: point sampling would give 0 or 1 everywhere.
    const out = areaResize(image(64, 64, (y, x) => (y + x) % 2).data, 64, 64, 8, 8);
    for (const v of out) expect(v).toBeCloseTo(0.5, 6);
  });

  it('weights partly covered pixels by their overlap at a non-integer factor', () => {
    // 3 -> 2 along W: output 0 covers input [0, 1.5): (a + 0.5 b) / 1.5; output 1 covers [1.5, 3): (0.5 b + c) / 1.5.
    const out = areaResize(Float32Array.of(3, 6, 9), 1, 3, 1, 2);
    expect(out[0]).toBeCloseTo((3 + 0.5 * 6) / 1.5, 6);
    expect(out[1]).toBeCloseTo((0.5 * 6 + 9) / 1.5, 6);
  });

  it('keeps the mean of the image', () => {
    const src = image(100, 77, (y, x) => Math.sin(y * 0.3) + x * 0.01).data;
    const out = areaResize(src, 100, 77, 13, 11);
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(out)).toBeCloseTo(mean(src), 4);
  });
});

describe('containFit', () => {
  it('puts a whole 512x400 radiograph on a 64x64 grid: every edge kept, the short side padded, not the centre crop', () => {
    // 400 rows x 512 columns; each border carries its own value, the inside is 0.
    const f = (y: number, x: number) => (y < 8 ? 1 : y >= 392 ? 2 : x < 8 ? 3 : x >= 504 ? 4 : 0);
    const fit = containFit(image(400, 512, f), [64, 64], -1);
    expect(fit.size).toEqual([50, 64]); // 400 * 64 / 512 = 50
    expect(fit.offset).toEqual([7, 0]);
    const at = (y: number, x: number) => fit.data[y * 64 + x];
    // Padding above and below, none at the sides.
    for (let x = 0; x < 64; x++) {
      expect(at(6, x)).toBe(-1);
      expect(at(57, x)).toBe(-1);
    }
    // The image's four borders are on the grid: top row, bottom row, left and right columns (8 px -> 1 px).
    expect(at(7, 32)).toBeCloseTo(1, 5);
    expect(at(7 + 49, 32)).toBeCloseTo(2, 5);
    expect(at(32, 0)).toBeCloseTo(3, 5);
    expect(at(32, 63)).toBeCloseTo(4, 5);
    expect(at(32, 32)).toBeCloseTo(0, 5);
    // The aspect ratio is kept: both axes scale by 8.
    expect(fit.spacing).toEqual([4, 4]);
  });

  it('upsamples a small image to fill the grid along its long side', () => {
    const fit = containFit(image(16, 32, (_, x) => x), [64, 64], -1);
    expect(fit.size).toEqual([32, 64]);
    expect(fit.offset).toEqual([16, 0]);
    expect(fit.data[16 * 64]).toBeCloseTo(0, 5);
    expect(fit.data[16 * 64 + 63]).toBeCloseTo(31, 5);
  });

  it('refuses a volume, naming the file', () => {
    const v: Volume = { data: new Float32Array(8), shape: [2, 2, 2], spacing: [1, 1, 1], source: 'head.nii' };
    expect(() => containFit(v, [4, 4], -1)).toThrow(PreprocessError);
    expect(() => containFit(v, [4, 4], -1)).toThrow(/head\.nii: fitting a whole image needs a 2D image/);
  });
});
