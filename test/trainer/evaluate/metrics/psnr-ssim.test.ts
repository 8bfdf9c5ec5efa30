import { describe, expect, it } from 'vitest';
import { msSsim, msSsimScales } from '../../../../trainer/evaluate/metrics/ms-ssim.ts';
import { psnr } from '../../../../trainer/evaluate/metrics/psnr.ts';
import { gaussianWindow, ssim } from '../../../../trainer/evaluate/metrics/ssim.ts';
import { blobs, noisy } from './helpers.ts';

describe('psnr', () => {
  it('is 10 log10(range^2 / mse)', () => {
    const a = new Float32Array([0, 0, 0, 0]);
    const b = new Float32Array([1, -1, 1, -1]); // mse 1
    expect(psnr(a, b, 2)).toBeCloseTo(10 * Math.log10(4), 12);
    expect(psnr(a, new Float32Array([0.5, 0, 0, 0]), 1)).toBeCloseTo(10 * Math.log10(1 / 0.0625), 12);
    expect(psnr(a, a, 2)).toBe(Infinity);
  });
  it('names bad input', () => {
    expect(() => psnr(new Float32Array(2), new Float32Array(3), 2)).toThrow(/b: 3 values/);
    expect(() => psnr(new Float32Array(2), new Float32Array(2), 0)).toThrow(/range/);
    expect(() => psnr(new Float32Array([NaN, 0]), new Float32Array(2), 1)).toThrow(/a: value 0 is NaN/);
  });
});

describe('ssim', () => {
  it('is exactly 1 for identical images, 2D and 3D, and symmetric', () => {
    const a = blobs([16, 16], 1);
    const b = noisy(a, 0.2, 2);
    expect(ssim(a, a, [16, 16], 2)).toBeCloseTo(1, 12);
    const v = blobs([12, 12, 12], 3);
    expect(ssim(v, v, [12, 12, 12], 2)).toBeCloseTo(1, 12);
    expect(ssim(a, b, [16, 16], 2)).toBeCloseTo(ssim(b, a, [16, 16], 2), 12);
  });
  it('of two constant images is the luminance term (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)', () => {
    const a = new Float32Array(64).fill(0.2);
    const b = new Float32Array(64).fill(0.6);
    const c1 = (0.01 * 2) ** 2;
    expect(ssim(a, b, [8, 8], 2)).toBeCloseTo((2 * 0.2 * 0.6 + c1) / (0.04 + 0.36 + c1), 6); // inputs are float32
  });
  it('falls as noise grows', () => {
    const a = blobs([32, 32], 4);
    const values = [0.05, 0.2, 0.8].map((s) => ssim(a, noisy(a, s, 5), [32, 32], 2));
    expect(values[0]).toBeGreaterThan(values[1]);
    expect(values[1]).toBeGreaterThan(values[2]);
  });
  it('shrinks its window to fit tiny images: odd, normalised', () => {
    expect(gaussianWindow(64)).toHaveLength(11);
    expect(gaussianWindow(6)).toHaveLength(5);
    expect(gaussianWindow(6).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
  });
});

describe('ms-ssim', () => {
  it('uses fewer scales for small images', () => {
    expect([msSsimScales([64, 64]), msSsimScales([256, 256]), msSsimScales([32, 32, 32]), msSsimScales([16, 16])]).toEqual([5, 5, 4, 3]);
  });
  it.each([[[16, 16]], [[64, 64]], [[32, 32, 32]]])('is 1 for identical images, falls with noise, never NaN (%j)', (shape) => {
    const a = blobs(shape, 6);
    expect(msSsim(a, a, shape, 2)).toBeCloseTo(1, 10);
    const values = [0.05, 0.3, 1].map((s) => msSsim(a, noisy(a, s, 7), shape, 2));
    expect(values[0]).toBeGreaterThan(values[1]);
    expect(values[1]).toBeGreaterThan(values[2]);
    const inverted = a.map((v) => -v); // anti-correlated: negative cs clamps to 0
    const m = msSsim(a, inverted, shape, 2);
    expect(Number.isNaN(m)).toBe(false);
    expect(m).toBeGreaterThanOrEqual(0);
    expect(m).toBeLessThan(0.2);
  });
});
