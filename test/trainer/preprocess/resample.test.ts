import { describe, expect, it } from 'vitest';
import type { Volume } from '../../../trainer/data/types.ts';
import { cropOrPad, resample } from '../../../trainer/preprocess/resample.ts';
import { volumeOf } from './phantoms.ts';

type Shape3 = [number, number, number];

/** A linear function of the physical position (mm from the volume's centre). */
const ramp = (z: number, y: number, x: number) => 2 + 0.5 * z + 0.25 * y - 0.1 * x;

function rampVolume(shape: Shape3, spacing: Shape3): Volume {
  return volumeOf(shape, spacing, (d, h, w) =>
    ramp((d - (shape[0] - 1) / 2) * spacing[0], (h - (shape[1] - 1) / 2) * spacing[1], (w - (shape[2] - 1) / 2) * spacing[2]),
  );
}

/** Max |v - ramp| over voxels whose centre lies within the input's outermost voxel centres (where trilinear is exact). */
function rampError(v: Volume, inner: [number, number, number]): { err: number; checked: number } {
  const [D, H, W] = v.shape;
  let err = 0;
  let checked = 0;
  let i = 0;
  for (let d = 0; d < D; d++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++, i++) {
        const p = [(d - (D - 1) / 2) * v.spacing[0], (h - (H - 1) / 2) * v.spacing[1], (w - (W - 1) / 2) * v.spacing[2]];
        if (p.some((x, a) => Math.abs(x) > inner[a] + 1e-9)) continue;
        err = Math.max(err, Math.abs(v.data[i] - ramp(p[0], p[1], p[2])));
        checked++;
      }
  return { err, checked };
}

describe('resample (trilinear)', () => {
  const shape: Shape3 = [8, 10, 12];
  const spacing: Shape3 = [2, 1, 1.5];
  const v = rampVolume(shape, spacing);
  // half-extent between the outermost input voxel centres
  const inner: Shape3 = [3.5 * 2, 4.5 * 1, 5.5 * 1.5];

  it('to half the spacing: shape doubles, extent kept, a ramp stays a ramp', () => {
    const r = resample(v, { spacing: [1, 0.5, 0.75] });
    expect(r.shape).toEqual([16, 20, 24]);
    expect(r.spacing).toEqual([1, 0.5, 0.75]);
    r.shape.forEach((n, a) => expect(n * r.spacing[a]).toBeCloseTo(shape[a] * spacing[a], 9));
    const { err, checked } = rampError(r, inner);
    expect(checked).toBeGreaterThan(0.7 * r.data.length);
    expect(err).toBeLessThan(1e-4);
  });

  it('to double the spacing: exact everywhere (all samples inside)', () => {
    const r = resample(v, { spacing: [4, 2, 3] });
    expect(r.shape).toEqual([4, 5, 6]);
    expect(r.spacing).toEqual([4, 2, 3]);
    const { err, checked } = rampError(r, inner);
    expect(checked).toBe(r.data.length);
    expect(err).toBeLessThan(1e-4);
  });

  it('to a target shape: extent exact, spacing n s / n\'', () => {
    const r = resample(v, { shape: [5, 7, 9] });
    expect(r.shape).toEqual([5, 7, 9]);
    r.spacing.forEach((s, a) => expect(s * r.shape[a]).toBeCloseTo(shape[a] * spacing[a], 9));
    expect(rampError(r, inner).err).toBeLessThan(1e-4);
  });

  it('holds the edge value outside the input voxel centres and copies unchanged grids', () => {
    const line = volumeOf([1, 1, 2], [1, 1, 1], (_d, _h, w) => w * 10);
    const up = resample(line, { spacing: [1, 1, 0.5] });
    expect(Array.from(up.data)).toEqual([0, 2.5, 7.5, 10]);
    const same = resample(v, { spacing });
    expect(same.data).not.toBe(v.data);
    expect(Array.from(same.data)).toEqual(Array.from(v.data));
  });

  it('rounds the shape for a spacing that does not divide the extent, keeping the centre', () => {
    const line = volumeOf([1, 1, 10], [1, 1, 1], (_d, _h, w) => w - 4.5); // a ramp through 0 at the centre
    const r = resample(line, { spacing: [1, 1, 3] });
    expect(r.shape).toEqual([1, 1, 3]); // 10 mm / 3 mm = 3.33 -> 3
    expect(r.spacing).toEqual([1, 1, 3]);
    expect(Array.from(r.data)).toEqual([-3, 0, 3]);
  });

  it('rejects bad targets', () => {
    expect(() => resample(v, { spacing: [1, 0, 1] })).toThrow(/bad target spacing/);
    expect(() => resample(v, { shape: [1, 2] })).toThrow(/bad target shape/);
  });
});

describe('cropOrPad', () => {
  const cube = (shape: Shape3, lo: number, hi: number) =>
    volumeOf(shape, [1, 1, 1], (d, h, w) => ([d, h, w].every((i) => i >= lo && i <= hi) ? 1 : 0));
  const maskOf = (v: Volume) => Uint8Array.from(v.data);

  it('crops around the volume centre without a mask and around the foreground with one', () => {
    const v = volumeOf([10, 10, 10], [1, 2, 3], (d, h, w) => d * 100 + h * 10 + w);
    const c = cropOrPad(v, [4, 4, 4]);
    expect(c.shape).toEqual([4, 4, 4]);
    expect(c.spacing).toEqual([1, 2, 3]);
    expect(c.data[0]).toBe(333); // window 3..6 on each axis
    const off = cube([10, 10, 10], 6, 7); // foreground box 6..7, centre 7
    const m = cropOrPad(off, [4, 4, 4], { mask: maskOf(off) });
    // the cube sits in the middle: indices 1..2 of the 4-window 5..8
    expect(Array.from(m.data).reduce((s, x) => s + x, 0)).toBe(8);
    expect(m.data[(1 * 4 + 1) * 4 + 1]).toBe(1);
    expect(m.data[(2 * 4 + 2) * 4 + 2]).toBe(1);
    expect(m.data[0]).toBe(0);
  });

  it('keeps a crop inside the data when the foreground is at an edge', () => {
    const corner = cube([10, 10, 10], 0, 1);
    const c = cropOrPad(corner, [4, 4, 4], { fill: -7, mask: maskOf(corner) });
    expect(Array.from(c.data)).not.toContain(-7);
    expect(c.data[0]).toBe(1);
  });

  it('pads centred with the fill value', () => {
    const small = volumeOf([2, 2, 2], [1, 1, 1], () => 5);
    const p = cropOrPad(small, [6, 6, 6], { fill: -1 });
    let fives = 0;
    p.data.forEach((x, i) => {
      const [d, h, w] = [Math.floor(i / 36), Math.floor(i / 6) % 6, i % 6];
      const inside = [d, h, w].every((k) => k >= 2 && k <= 3);
      expect(x).toBe(inside ? 5 : -1);
      if (inside) fives++;
    });
    expect(fives).toBe(8);
    // mixed: crop one axis, pad another
    const mixed = cropOrPad(volumeOf([1, 8, 2], [1, 1, 1], (_d, h) => h), [1, 4, 4], { fill: -1 });
    expect(Array.from(mixed.data.subarray(0, 4))).toEqual([-1, 2, 2, -1]);
  });
});
