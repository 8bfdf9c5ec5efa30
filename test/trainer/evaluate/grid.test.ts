import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import type { GeneratedImage } from '../../../sampler/encode/types.ts';
import { encodeGridPng, middleSlice } from '../../../trainer/evaluate/grid.ts';

const image = (value: number, shape = [2, 3, 1]): GeneratedImage => ({
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value),
  shape,
  spacing: shape.slice(0, -1).map(() => 1),
  modality: 'mri',
  unit: '',
  range: [-1, 1],
});

describe('evaluation grid', () => {
  it('lays rows out left to right with 1-pixel gaps, each tile windowed by its range', () => {
    const png = decode(encodeGridPng([[image(1), image(-1)], [image(0)]]));
    expect([png.width, png.height, png.channels]).toEqual([2 * 3 + 1, 2 * 2 + 1, 1]);
    const px = (x: number, y: number) => png.data[y * png.width + x];
    expect(px(0, 0)).toBe(255); // row 0, tile 0 (value 1)
    expect(px(4, 0)).toBe(0); // row 0, tile 1 (value -1)
    expect(px(3, 0)).toBe(0); // gap column
    expect(px(0, 3)).toBe(128); // row 1, tile 0 (value 0: the midpoint rounds up)
    expect(px(4, 3)).toBe(0); // row 1 has one tile: the rest stays 0
  });

  it('shows a volume by its middle axial slice', () => {
    const v = image(0, [3, 2, 2, 1]);
    v.data.set([1, 1, 1, 1], 4); // slice 1 of 3
    expect(Array.from(middleSlice(v).data)).toEqual([1, 1, 1, 1]);
    expect(middleSlice(v).shape).toEqual([2, 2, 1]);
  });
});
