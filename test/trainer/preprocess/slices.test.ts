import { describe, expect, it } from 'vitest';
import { extractSlices } from '../../../trainer/preprocess/slices.ts';
import { volumeOf } from './phantoms.ts';

// value = 100 d + 10 h + w, so every voxel says where it came from
const v = volumeOf([4, 5, 6], [3, 2, 1], (d, h, w) => 100 * d + 10 * h + w, { source: 'vol.nii', modality: 'mri' });

describe('extractSlices', () => {
  it('axial (D): [1, H, W] slices with spacing [sD, sH, sW]', () => {
    const { slices } = extractSlices(v, { axis: 'axial', minForeground: 0 });
    expect(slices).toHaveLength(4);
    expect(slices[2].shape).toEqual([1, 5, 6]);
    expect(slices[2].spacing).toEqual([3, 2, 1]);
    expect(slices[2].data[1 * 6 + 4]).toBe(214);
    expect(slices[2].source).toBe('vol.nii#axial=2');
    expect(slices[2].index).toBe(2);
    expect(slices[2].modality).toBe('mri');
  });

  it('coronal (H): [1, D, W] slices with spacing [sH, sD, sW]', () => {
    const { slices } = extractSlices(v, { axis: 'coronal', minForeground: 0 });
    expect(slices).toHaveLength(5);
    expect(slices[3].shape).toEqual([1, 4, 6]);
    expect(slices[3].spacing).toEqual([2, 3, 1]);
    expect(slices[3].data[2 * 6 + 5]).toBe(235);
    expect(slices[3].source).toBe('vol.nii#coronal=3');
  });

  it('sagittal (W): [1, D, H] slices with spacing [sW, sD, sH]', () => {
    const { slices } = extractSlices(v, { axis: 'sagittal', minForeground: 0 });
    expect(slices).toHaveLength(6);
    expect(slices[5].shape).toEqual([1, 4, 5]);
    expect(slices[5].spacing).toEqual([1, 3, 2]);
    expect(slices[5].data[3 * 5 + 1]).toBe(315);
    expect(Array.from(slices[0].data)).toEqual([0, 10, 20, 30, 40, 100, 110, 120, 130, 140, 200, 210, 220, 230, 240, 300, 310, 320, 330, 340]);
  });

  it('skips slices whose foreground fraction is below the threshold', () => {
    // axial slices have 30 voxels: slice 0 empty, 1 has 1 (3.3%), 2 has 2 (6.7%), 3 full
    const mask = new Uint8Array(120);
    mask[30] = 1;
    mask[60] = mask[61] = 1;
    mask.fill(1, 90, 120);
    const r = extractSlices(v, { axis: 'axial', mask });
    expect(r.slices.map((s) => s.index)).toEqual([2, 3]);
    expect(r.skipped).toEqual([0, 1]);
    expect(r.masks).toHaveLength(2);
    expect(extractSlices(v, { axis: 'axial', mask, minForeground: 0.01 }).slices.map((s) => s.index)).toEqual([1, 2, 3]);
  });

  it('uses the foreground mask by default, and refuses non-axial slices of a 2D image', () => {
    const blob = volumeOf([6, 8, 8], [1, 1, 1], (d, h, w) => (d >= 2 && d <= 3 && h > 1 && h < 6 && w > 1 && w < 6 ? 100 : 0));
    expect(extractSlices(blob).slices.map((s) => s.index)).toEqual([2, 3]);
    const image = volumeOf([1, 4, 4], [1, 1, 1], () => 1, { source: 'x.png' });
    expect(() => extractSlices(image, { axis: 'coronal' })).toThrow(/x\.png: a 2D image .* has only an axial slice/);
    expect(() => extractSlices(v, { axis: 'oblique' as never })).toThrow(/unknown slice axis "oblique"/);
  });
});
