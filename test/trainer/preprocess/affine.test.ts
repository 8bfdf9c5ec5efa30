import { describe, expect, it } from 'vitest';
import { AFFINE_STREAM, affineAt, applyAffine, drawAffine, type AffineDraw } from '../../../trainer/preprocess/affine.ts';
import { Rng } from '../../../shared/rng.ts';

const NONE: AffineDraw = { angle: 0, scale: 1, shiftH: 0, shiftW: 0, gain: 1 };
/** A 4x4 plane with values 0..15 scaled into (-1, 1). */
const plane = Float32Array.from({ length: 16 }, (_, i) => i / 16 - 0.5);
const OPTS = { rotate: 5, scale: 0.05, shift: 0.05, gain: 0.1 };

describe('applyAffine', () => {
  it('leaves the image as it is for the identity draw', () => {
    expect(applyAffine(plane, [1, 4, 4], NONE)).toEqual(plane);
  });

  it('shifts by whole pixels, filling with black (-1) from outside', () => {
    const out = applyAffine(plane, [1, 4, 4], { ...NONE, shiftW: 1 });
    // Output column j samples input column j - 1: column 0 comes from outside.
    for (let i = 0; i < 4; i++) {
      expect(out[i * 4]).toBe(-1);
      for (let j = 1; j < 4; j++) expect(out[i * 4 + j]).toBeCloseTo(plane[i * 4 + j - 1], 6);
    }
  });

  it('rotates by 90 degrees about the centre as the index map says, no reflection', () => {
    const out = applyAffine(plane, [1, 4, 4], { ...NONE, angle: Math.PI / 2 });
    // Output (i, j) samples input (sy, sx) = (c + (j - c), c - (i - c)) with c = 1.5: input[j][3 - i].
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(out[i * 4 + j]).toBeCloseTo(plane[j * 4 + (3 - i)], 6);
    // A mirror would be input[j][i]; the rotation differs from it.
    expect(out[0]).not.toBeCloseTo(plane[0], 3);
  });

  it('scales about the centre, interpolating bilinearly', () => {
    // Scale 2: output (i, j) samples input c + (p - c) / 2; output (0, 0) -> input (0.75, 0.75).
    const out = applyAffine(plane, [1, 4, 4], { ...NONE, scale: 2 });
    const bilinear = 0.25 * 0.25 * plane[0] + 0.25 * 0.75 * plane[1] + 0.75 * 0.25 * plane[4] + 0.75 * 0.75 * plane[5];
    expect(out[0]).toBeCloseTo(bilinear, 6);
  });

  it('gain brightens above black and keeps black at -1, saturating at white', () => {
    const x = Float32Array.of(-1, 0, 0.9, 1);
    const out = applyAffine(x, [1, 1, 4], { ...NONE, gain: 1.1 });
    expect(Array.from(out)).toEqual([-1, 2 * 0.55 - 1, 1, 1].map(Math.fround));
  });

  it('moves every slice of a volume alike', () => {
    const volume = new Float32Array(32);
    volume.set(plane, 0);
    volume.set(plane, 16);
    const out = applyAffine(volume, [2, 4, 4], { ...NONE, angle: 0.3, shiftH: 0.5 });
    expect(out.subarray(16)).toEqual(out.subarray(0, 16));
  });

  it('refuses a wrong length and a non-positive scale', () => {
    expect(() => applyAffine(plane, [1, 4, 5], NONE)).toThrow(/16 values for shape \[1, 4, 5\]/);
    expect(() => applyAffine(plane, [1, 4, 4], { ...NONE, scale: 0 })).toThrow(/scale must be positive/);
  });
});

describe('affine draws', () => {
  it('stay within the options and keep a positive determinant (no mirror image)', () => {
    for (let k = 0; k < 200; k++) {
      const d = drawAffine(new Rng(1, k), OPTS, [64, 48]);
      expect(Math.abs(d.angle)).toBeLessThanOrEqual((5 * Math.PI) / 180);
      expect(Math.abs(d.scale - 1)).toBeLessThanOrEqual(0.05);
      expect(Math.abs(d.shiftH)).toBeLessThanOrEqual(0.05 * 64);
      expect(Math.abs(d.shiftW)).toBeLessThanOrEqual(0.05 * 48);
      expect(Math.abs(d.gain - 1)).toBeLessThanOrEqual(0.1);
      expect(d.scale ** 2).toBeGreaterThan(0); // det(s R) = s^2
    }
  });

  it('depend only on (seed, step, index), on streams apart from the flips', () => {
    const a = affineAt(3, 10, 2, OPTS, [64, 64]);
    affineAt(3, 11, 2, OPTS, [64, 64]);
    expect(affineAt(3, 10, 2, OPTS, [64, 64])).toEqual(a);
    expect(affineAt(3, 10, 3, OPTS, [64, 64])).not.toEqual(a);
    expect(affineAt(3, 11, 2, OPTS, [64, 64])).not.toEqual(a);
    expect(AFFINE_STREAM).toBeGreaterThan(2 ** 30); // example indices (the flips' streams) never reach it
  });
});
