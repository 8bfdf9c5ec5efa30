// Slice display (sampler/browser/slices.ts): geometry and physical aspect
// per plane, which voxel lands on which pixel (a volume whose value encodes
// its own coordinates), windowing, RGB, and bad input.
import { describe, expect, it } from 'vitest';
import type { GeneratedImage } from '../../sampler/encode/types.ts';
import { defaultWindow, planesOf, renderSlice, sliceGeometry } from '../../sampler/browser/slices.ts';

const [D, H, W] = [3, 4, 5];
/** value(z, y, x) = 100 z + 10 y + x, real units, window [0, 255]. */
const volume: GeneratedImage = {
  data: Float32Array.from({ length: D * H * W }, (_, i) => 100 * Math.floor(i / (H * W)) + 10 * (Math.floor(i / W) % H) + (i % W)),
  shape: [D, H, W, 1],
  spacing: [2.5, 0.9, 0.8],
  modality: 'ct',
  unit: 'HU',
  range: [0, 255],
};
const image2d: GeneratedImage = { data: Float32Array.from({ length: 6 }, (_, i) => i * 50), shape: [2, 3, 1], spacing: [1, 0.5], modality: 'mri', unit: '', range: [0, 250] };
/** Identity window: values 0..255 map to themselves. */
const IDENTITY = { level: 127.5, width: 255 };

/** Grey values of a rendered slice, row by row. */
function grey(image: GeneratedImage, plane: 'axial' | 'coronal' | 'sagittal', index: number, win = IDENTITY): number[][] {
  const s = renderSlice(image, plane, index, win);
  return Array.from({ length: s.height }, (_, r) => Array.from({ length: s.width }, (_, c) => s.data[(r * s.width + c) * 4]));
}

describe('slices', () => {
  it('has one plane for 2D and three for a volume, with sizes, counts and physical aspect', () => {
    expect(planesOf(image2d)).toEqual(['axial']);
    expect(planesOf(volume)).toEqual(['axial', 'coronal', 'sagittal']);
    expect(sliceGeometry(image2d, 'axial')).toEqual({ width: 3, height: 2, count: 1, aspect: (3 * 0.5) / (2 * 1) });
    expect(sliceGeometry(volume, 'axial')).toEqual({ width: W, height: H, count: D, aspect: (W * 0.8) / (H * 0.9) });
    expect(sliceGeometry(volume, 'coronal')).toEqual({ width: W, height: D, count: H, aspect: (W * 0.8) / (D * 2.5) });
    expect(sliceGeometry(volume, 'sagittal')).toEqual({ width: H, height: D, count: W, aspect: (H * 0.9) / (D * 2.5) });
    expect(() => sliceGeometry(image2d, 'coronal')).toThrow(/2D image has no coronal/);
  });

  it('puts each voxel where the plane says: axial rows y, columns x; coronal and sagittal with the last slice on top', () => {
    // Values above 255 saturate, so use slice z = 1 (100..134) and small y, x for the checks.
    expect(grey(volume, 'axial', 1)).toEqual([0, 1, 2, 3].map((y) => [0, 1, 2, 3, 4].map((x) => 100 + 10 * y + x)));
    // Coronal at y = 2: rows z = 2, 1, 0 (top to bottom), columns x.
    expect(grey(volume, 'coronal', 2)).toEqual([2, 1, 0].map((z) => [0, 1, 2, 3, 4].map((x) => Math.min(255, 100 * z + 20 + x))));
    // Sagittal at x = 3: rows z = 2, 1, 0, columns y.
    expect(grey(volume, 'sagittal', 3)).toEqual([2, 1, 0].map((z) => [0, 1, 2, 3].map((y) => Math.min(255, 100 * z + 10 * y + 3))));
    expect(grey(image2d, 'axial', 0, defaultWindow(image2d))).toEqual([
      [0, 51, 102],
      [153, 204, 255],
    ]);
  });

  it('windows linearly from level - width/2 (black) to level + width/2 (white), clipped, alpha opaque', () => {
    expect(defaultWindow(volume)).toEqual({ level: 127.5, width: 255 });
    // Window [100, 110]: slice z = 1 row y = 0 is 100..104 -> 0, 25.5, 51, 76.5, 102 (rounded half to even).
    const s = renderSlice(volume, 'axial', 1, { level: 105, width: 10 });
    expect(Array.from(s.data.slice(0, 20))).toEqual([0, 0, 0, 255, 26, 26, 26, 255, 51, 51, 51, 255, 76, 76, 76, 255, 102, 102, 102, 255]);
    // Row y = 1 is 110..114: at or above the top of the window.
    expect(Array.from(s.data.slice(20, 40)).filter((_, i) => i % 4 === 0)).toEqual([255, 255, 255, 255, 255]);
  });

  it('shows 3 channels as RGB', () => {
    const rgb: GeneratedImage = { ...image2d, data: Float32Array.from([0, 125, 250, 250, 125, 0]), shape: [1, 2, 3] };
    expect(Array.from(renderSlice(rgb, 'axial', 0, defaultWindow(rgb)).data)).toEqual([0, 128, 255, 255, 255, 128, 0, 255]);
  });

  it('rejects slices out of range and empty windows', () => {
    expect(() => renderSlice(volume, 'axial', 3, IDENTITY)).toThrow(/axial slice 3 is outside \[0, 2\]/);
    expect(() => renderSlice(volume, 'sagittal', -1, IDENTITY)).toThrow(/outside/);
    expect(() => renderSlice(volume, 'axial', 0, { level: 0, width: 0 })).toThrow(/window width must be > 0/);
  });
});
