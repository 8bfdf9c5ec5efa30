import { describe, expect, it } from 'vitest';
import { toRealUnits } from '../../../shared/intensity.ts';
import { Rng } from '../../../shared/rng.ts';
import { foregroundMask, fromRealUnits, huWindow, minMax } from '../../../trainer/preprocess/window.ts';
import { iou, radiusMm, sphereMask, volumeOf } from './phantoms.ts';

describe('HU window', () => {
  it('maps level 40 / width 400 as x = (HU - level) / (width / 2), clipped', () => {
    const hu = Float32Array.from([-160, 240, 40, 140, -60, -1000, 3000]);
    expect(Array.from(huWindow(hu, 40, 400))).toEqual([-1, 1, 0, 0.5, -0.5, -1, 1]);
  });

  it('round-trips with toRealUnits inside the window', () => {
    const mapping = { kind: 'hu-window', level: 40, width: 400 } as const;
    const hu = Float32Array.from({ length: 401 }, (_, i) => -160 + i);
    const back = toRealUnits(huWindow(hu, 40, 400), mapping);
    hu.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThan(1e-3));
    const x = Float32Array.from({ length: 21 }, (_, i) => -1 + i / 10);
    const again = fromRealUnits(toRealUnits(x, mapping), mapping);
    x.forEach((v, i) => expect(Math.abs(again[i] - v)).toBeLessThan(1e-6));
  });

  it('rejects a non-positive width', () => {
    expect(() => huWindow(new Float32Array(1), 40, 0)).toThrow(/width/);
  });
});

describe('min-max', () => {
  it('maps [low, high] onto [-1, 1], clipped, and round-trips with toRealUnits', () => {
    expect(Array.from(minMax(Float32Array.from([0, 255, 127.5, -5, 300]), 0, 255))).toEqual([-1, 1, 0, -1, 1]);
    const mapping = { kind: 'linear', low: 0, high: 255, unit: '' } as const;
    const v = Float32Array.from({ length: 256 }, (_, i) => i);
    const back = toRealUnits(minMax(v, 0, 255), mapping);
    v.forEach((x, i) => expect(Math.abs(back[i] - x)).toBeLessThan(1e-4));
  });
});

describe('foregroundMask', () => {
  const shape: [number, number, number] = [32, 32, 32];
  const spacing: [number, number, number] = [1, 1, 1];
  const truth = sphereMask(shape, spacing, 10);
  const speck = (d: number, h: number, w: number) => d >= 1 && d <= 2 && h >= 1 && h <= 2 && w >= 1 && w <= 2;

  it('MRI: a noisy sphere in air gives the sphere; a detached speck is dropped', () => {
    const noise = new Rng(5).normal(32 ** 3);
    let i = 0;
    const v = volumeOf(shape, spacing, (d, h, w) => {
      const n = noise[i++];
      if (speck(d, h, w)) return 100;
      return radiusMm(shape, spacing, d, h, w) < 10 ? 100 + 8 * n : Math.abs(3 * n);
    }, { modality: 'mri', source: 'mri.nii' });
    const mask = foregroundMask(v);
    expect(iou(mask, truth)).toBeGreaterThan(0.95);
    expect(mask[(1 * 32 + 1) * 32 + 1]).toBe(0);
    // without the component step the speck stays
    expect(foregroundMask(v, { largestComponent: false })[(1 * 32 + 1) * 32 + 1]).toBe(1);
  });

  it('MRI threshold is relative to the robust range, so an offset scan works too', () => {
    const noise = new Rng(6).normal(32 ** 3);
    let i = 0;
    const v = volumeOf(shape, spacing, (d, h, w) => 500 + (radiusMm(shape, spacing, d, h, w) < 10 ? 100 + 8 * noise[i++] : Math.abs(3 * noise[i++])));
    expect(iou(foregroundMask(v, { modality: 'mri' }), truth)).toBeGreaterThan(0.95);
  });

  it('CT: HU > -500, the largest component, holes (an air cavity) filled slice-wise', () => {
    const noise = new Rng(7).normal(32 ** 3);
    let i = 0;
    const v = volumeOf(shape, spacing, (d, h, w) => {
      const n = noise[i++];
      const r = radiusMm(shape, spacing, d, h, w);
      if (speck(d, h, w)) return 40;
      if (r < 3) return -1000 + 20 * n; // a sinus
      return r < 10 ? 40 + 15 * n : -1000 + 20 * n;
    }, { modality: 'ct', source: 'ct.nii' });
    const mask = foregroundMask(v);
    expect(iou(mask, truth)).toBeGreaterThan(0.95);
    expect(mask[(16 * 32 + 16) * 32 + 16]).toBe(1); // the cavity's centre
    expect(mask[(1 * 32 + 1) * 32 + 1]).toBe(0);
    expect(foregroundMask(v, { fillHoles: false })[(16 * 32 + 16) * 32 + 16]).toBe(0);
  });
});
