import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { encodeMontagePng, pickSlices } from '../../../sampler/encode/montage.ts';
import { encodePng } from '../../../sampler/encode/png.ts';
import { constant, image } from './fixtures.ts';

describe('encodePng', () => {
  it('maps range lo/mid/hi to 0/128/255, clips outside it, keeps W as the width', () => {
    // [H=2, W=3, 1] in range [0, 100]: 62.5 -> 159.375 -> 159; 25 -> 63.75 -> 64.
    const values = [0, 100, 50, -20, 150, 25];
    const png = decode(encodePng(image([2, 3, 1], (i) => values[i], { range: [0, 100] })));
    expect({ width: png.width, height: png.height, depth: png.depth, channels: png.channels }).toEqual({ width: 3, height: 2, depth: 8, channels: 1 });
    expect(Array.from(png.data)).toEqual([0, 255, 128, 0, 255, 64]);
  });

  it('writes 16-bit samples over the full range (CT in HU)', () => {
    const values = [-1000, 1000, 0, 3000, -3000, 500];
    const png = decode(encodePng(image([3, 2, 1], (i) => values[i], { range: [-1000, 1000], unit: 'HU', modality: 'ct' }), { bitDepth: 16 }));
    expect({ width: png.width, height: png.height, depth: png.depth }).toEqual({ width: 2, height: 3, depth: 16 });
    expect(png.data).toBeInstanceOf(Uint16Array);
    // 0 HU -> 32767.5 -> 32768; 500 HU -> 49151.25 -> 49151.
    expect(Array.from(png.data)).toEqual([0, 65535, 32768, 65535, 0, 49151]);
  });

  it('writes RGB with channels interleaved as in the data', () => {
    const values = [255, 0, 0, 0, 128, 255];
    const png = decode(encodePng(image([1, 2, 3], (i) => values[i])));
    expect({ width: png.width, height: png.height, channels: png.channels }).toEqual({ width: 2, height: 1, channels: 3 });
    expect(Array.from(png.data)).toEqual(values);
  });

  it('rejects a volume, naming the expected shape', () => {
    expect(() => encodePng(constant([2, 2, 2, 1], 0))).toThrow(/2D image \[H, W, C\]; got shape \[2, 2, 2, 1\]/);
  });

  it('rejects channels other than 1 or 3', () => {
    expect(() => encodePng(constant([2, 2, 2], 0))).toThrow(/1 \(grey\) or 3 \(RGB\) channels; got 2/);
    expect(() => encodePng(constant([2, 2, 4], 0))).toThrow(/got 4/);
  });

  it('rejects NaN and Infinity, naming the index', () => {
    expect(() => encodePng(image([2, 2, 1], (i) => (i === 3 ? NaN : 0)))).toThrow(/image 0: non-finite value NaN at index 3/);
    expect(() => encodePng(image([2, 2, 1], (i) => (i === 1 ? -Infinity : 0)))).toThrow(/image 0: non-finite value -Infinity at index 1/);
  });

  it('rejects an empty or reversed range', () => {
    expect(() => encodePng(constant([2, 2, 1], 0, { range: [5, 5] }))).toThrow(/range \[5, 5\] must be finite with lo < hi/);
    expect(() => encodePng(constant([2, 2, 1], 0, { range: [10, -10] }))).toThrow(/range \[10, -10\]/);
    expect(() => encodePng(constant([2, 2, 1], 0, { range: [0, NaN] }))).toThrow(/range \[0, NaN\]/);
  });

  it('rejects a bad shape, a data length that does not match, and a bad bit depth', () => {
    expect(() => encodePng(constant([2, 2], 0))).toThrow(/shape \[2, 2\] must be \[H, W, C\] or \[D, H, W, C\]/);
    expect(() => encodePng({ ...constant([2, 2, 1], 0), shape: [2, 3, 1] })).toThrow(/data has 4 values but shape \[2, 3, 1\] needs 6/);
    expect(() => encodePng(constant([2, 2, 1], 0), { bitDepth: 12 as 8 })).toThrow(/bitDepth must be 8 or 16; got 12/);
  });
});

describe('pickSlices', () => {
  it('keeps every slice up to the limit', () => {
    expect(pickSlices(5, 64)).toEqual([0, 1, 2, 3, 4]);
    expect(pickSlices(4, 4)).toEqual([0, 1, 2, 3]);
  });

  it('spreads the limit evenly from first to last slice', () => {
    expect(pickSlices(10, 4)).toEqual([0, 3, 6, 9]);
    for (const [depth, max] of [[100, 64], [65, 64], [7, 2], [1000, 3]]) {
      const s = pickSlices(depth, max);
      expect(s).toHaveLength(max);
      expect(s[0]).toBe(0);
      expect(s[max - 1]).toBe(depth - 1);
      for (let k = 1; k < max; k++) expect(s[k]).toBeGreaterThan(s[k - 1]);
    }
  });
});

describe('encodeMontagePng', () => {
  const at = (png: ReturnType<typeof decode>, y: number, x: number, c = 0) => png.data[(y * png.width + x) * png.channels + c];

  it('tiles 2D images on a near-square grid with 1-pixel zero gaps', () => {
    // 5 images [2, 3, 1] -> 3 columns x 2 rows; image i is constant 10 * (i + 1).
    const images = Array.from({ length: 5 }, (_, i) => constant([2, 3, 1], 10 * (i + 1)));
    const png = decode(encodeMontagePng(images));
    expect({ width: png.width, height: png.height }).toEqual({ width: 3 * 4 - 1, height: 2 * 3 - 1 });
    for (let i = 0; i < 5; i++) {
      const [top, left] = [Math.floor(i / 3) * 3, (i % 3) * 4];
      expect(at(png, top, left)).toBe(10 * (i + 1));
      expect(at(png, top + 1, left + 2)).toBe(10 * (i + 1));
    }
    for (let y = 0; y < png.height; y++) expect([at(png, y, 3), at(png, y, 7)]).toEqual([0, 0]);
    for (let x = 0; x < png.width; x++) expect(at(png, 2, x)).toBe(0);
    // The sixth cell is unused.
    expect([at(png, 3, 8), at(png, 4, 10)]).toEqual([0, 0]);
  });

  it('shows a volume as its axial slices in order, each slice row-major', () => {
    // [D=4, H=2, W=3, 1]: value = 50 * d + (y * 3 + x) -> 2 x 2 grid of 3 x 2 tiles.
    const png = decode(encodeMontagePng([image([4, 2, 3, 1], (i) => 50 * Math.floor(i / 6) + (i % 6))]));
    expect({ width: png.width, height: png.height }).toEqual({ width: 7, height: 5 });
    for (let d = 0; d < 4; d++) {
      const [top, left] = [Math.floor(d / 2) * 3, (d % 2) * 4];
      for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) expect(at(png, top + y, left + x)).toBe(50 * d + y * 3 + x);
    }
  });

  it('keeps at most maxSlices slices, first and last included', () => {
    // D = 10, maxSlices 4 -> slices 0, 3, 6, 9, each constant 20 * d + 5.
    const png = decode(encodeMontagePng([image([10, 1, 1, 1], (i) => 20 * i + 5)], { maxSlices: 4 }));
    expect({ width: png.width, height: png.height }).toEqual({ width: 3, height: 3 });
    expect([at(png, 0, 0), at(png, 0, 2), at(png, 2, 0), at(png, 2, 2)]).toEqual([5, 65, 125, 185]);
  });

  it('defaults to 64 slices', () => {
    // 100 slices of 1 x 1 -> 64 tiles on an 8 x 8 grid.
    const png = decode(encodeMontagePng([image([100, 1, 1, 1], (i) => i)], { bitDepth: 16 }));
    expect({ width: png.width, height: png.height }).toEqual({ width: 15, height: 15 });
    expect(at(png, 14, 14)).toBe(Math.round((99 / 255) * 65535));
  });

  it('puts each volume in its own block of rows', () => {
    // Two [D=3, 1, 1, 1] volumes: 2 columns, 2 rows per volume; volume v slice d = 100 * v + 10 * d + 10.
    const vols = [0, 1].map((v) => image([3, 1, 1, 1], (d) => 100 * v + 10 * d + 10));
    const png = decode(encodeMontagePng(vols));
    expect({ width: png.width, height: png.height }).toEqual({ width: 3, height: 7 });
    const column = (x: number) => Array.from({ length: 4 }, (_, r) => at(png, 2 * r, x));
    expect(column(0)).toEqual([10, 30, 110, 130]);
    expect(column(2)).toEqual([20, 0, 120, 0]);
  });

  it('windows each image by its own range, in RGB too', () => {
    const images = [constant([1, 1, 3], 50, { range: [0, 100] }), constant([1, 1, 3], 50, { range: [50, 60] })];
    const png = decode(encodeMontagePng(images));
    expect(png.channels).toBe(3);
    expect(Array.from(png.data)).toEqual([128, 128, 128, 0, 0, 0, 0, 0, 0]);
  });

  it('rejects an empty list, mismatched shapes, bad data, and a bad maxSlices', () => {
    expect(() => encodeMontagePng([])).toThrow(/no images to encode/);
    expect(() => encodeMontagePng([constant([2, 2, 1], 0), constant([2, 3, 1], 0)])).toThrow(
      /image 1: shape \[2, 3, 1\] differs from image 0's \[2, 2, 1\]/,
    );
    expect(() => encodeMontagePng([constant([2, 2, 1], 0), constant([1, 2, 2, 1], 0)])).toThrow(/image 1: shape \[1, 2, 2, 1\] differs/);
    expect(() => encodeMontagePng([constant([2, 2, 1], 0), image([2, 2, 1], (i) => (i === 2 ? Infinity : 0))])).toThrow(
      /image 1: non-finite value Infinity at index 2/,
    );
    expect(() => encodeMontagePng([constant([2, 2, 1], 0), constant([2, 2, 1], 0, { range: [1, 0] })])).toThrow(/image 1: range \[1, 0\]/);
    expect(() => encodeMontagePng([constant([2, 2, 2, 2], 0)])).toThrow(/got 2/);
    expect(() => encodeMontagePng([constant([3, 1, 1, 1], 0)], { maxSlices: 1 })).toThrow(/maxSlices must be an integer >= 2; got 1/);
  });
});
