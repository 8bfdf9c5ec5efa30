import { describe, expect, it } from 'vitest';
import { gaussianWindow, ssim, ssimTerms } from '../../../../trainer/evaluate/metrics/ssim.ts';
import { blobs, noisy } from './helpers.ts';

/**
 * Independent reference: SSIM by brute force over every 'valid' window
 * position with the full (non-separable) Gaussian window, weights
 * exp(-|offset|^2 / 2 sigma_axis^2) normalised over the whole window. Shares
 * nothing with ssim.ts but the documented window sizes and sigmas.
 */
function referenceSsim(a: Float32Array, b: Float32Array, shape: number[], range: number): number {
  const full = shape.length === 2 ? [1, ...shape] : shape;
  const [D, H, W] = full;
  const size = full.map((n) => Math.min(11, n % 2 ? n : n - 1));
  const sigma = size.map((n) => (1.5 * n) / 11);
  const weight = (dz: number, dy: number, dx: number) =>
    Math.exp(-(dz * dz) / (2 * sigma[0] ** 2) - (dy * dy) / (2 * sigma[1] ** 2) - (dx * dx) / (2 * sigma[2] ** 2));
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  let total = 0;
  let count = 0;
  for (let z0 = 0; z0 + size[0] <= D; z0++) {
    for (let y0 = 0; y0 + size[1] <= H; y0++) {
      for (let x0 = 0; x0 + size[2] <= W; x0++) {
        let [sw, mx, my, xx, yy, xy] = [0, 0, 0, 0, 0, 0];
        for (let z = 0; z < size[0]; z++) {
          for (let y = 0; y < size[1]; y++) {
            for (let x = 0; x < size[2]; x++) {
              const w = weight(z - (size[0] - 1) / 2, y - (size[1] - 1) / 2, x - (size[2] - 1) / 2);
              const i = ((z0 + z) * H + y0 + y) * W + x0 + x;
              sw += w;
              mx += w * a[i];
              my += w * b[i];
              xx += w * a[i] * a[i];
              yy += w * b[i] * b[i];
              xy += w * a[i] * b[i];
            }
          }
        }
        [mx, my, xx, yy, xy] = [mx, my, xx, yy, xy].map((v) => v / sw);
        const l = (2 * mx * my + c1) / (mx * mx + my * my + c1);
        const cs = (2 * (xy - mx * my) + c2) / (xx - mx * mx + yy - my * my + c2);
        total += l * cs;
        count++;
      }
    }
  }
  return total / count;
}

describe('ssim', () => {
  it('matches a brute-force reference in 2D and 3D, including shrunk windows', () => {
    // Both sum the same products in float64 in a different order: agreement
    // to ~1e-15; 1e-12 leaves room without hiding an indexing error (those
    // move SSIM by > 1e-3 on these noisy images).
    for (const shape of [[20, 17], [5, 12, 13], [4, 6]]) {
      const a = noisy(blobs(shape, 1), 0.2, 2);
      const b = noisy(blobs(shape, 1), 0.3, 3);
      expect(Math.abs(ssim(a, b, shape, 2) - referenceSsim(a, b, shape, 2))).toBeLessThan(1e-12);
    }
  });

  it('is exactly 1 for identical images (2D, 3D, tiny) and exactly symmetric', () => {
    for (const shape of [[16, 16], [64, 64], [12, 12, 12], [32, 32, 32], [3, 5]]) {
      const a = noisy(blobs(shape, 4), 0.1, 5);
      expect(ssim(a, a.slice(), shape, 2)).toBe(1);
      const b = noisy(a, 0.3, 6);
      expect(ssim(a, b, shape, 2)).toBe(ssim(b, a, shape, 2));
    }
  });

  it('of two constant images is the luminance term alone', () => {
    // sigma_x = sigma_y = sigma_xy = 0, so cs = C2 / C2 = 1 and
    // SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), C1 = (0.01 * 2)^2 = 4e-4:
    //      = (2 * 0.5 * 0.25 + 4e-4) / (0.25 + 0.0625 + 4e-4) = 0.2504 / 0.3129.
    // The window weights sum to 1 only to ~1e-16, hence 12 digits.
    const t = ssimTerms(new Float32Array(64).fill(0.5), new Float32Array(64).fill(0.25), [8, 8], 2);
    expect(t.ssim).toBeCloseTo(0.2504 / 0.3129, 12);
    expect(t.cs).toBeCloseTo(1, 12);
    // Same means, L = 10: C1 = 0.01.
    expect(ssim(new Float32Array(27).fill(0.5), new Float32Array(27).fill(0.25), [3, 3, 3], 10)).toBeCloseTo(0.26 / 0.3225, 12);
  });

  it('has cs = 1 for a constant shift (structure and contrast unchanged)', () => {
    // Values on a 1/256 grid so a and a + 0.25 are exact in float32.
    const a = blobs([24, 24], 7).map((v) => Math.round(v * 256) / 256);
    const t = ssimTerms(a, a.map((v) => v + 0.25), [24, 24], 2);
    expect(t.cs).toBeCloseTo(1, 12);
    expect(t.ssim).toBeLessThan(1);
  });

  it('falls monotonically as noise grows', () => {
    const a = blobs([32, 32], 8);
    const values = [0, 0.05, 0.1, 0.2, 0.4, 0.8].map((s) => ssim(a, noisy(a, s, 9), [32, 32], 2));
    expect(values[0]).toBe(1);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1]);
    expect(values[5]).toBeLessThan(0.2);
  });

  it('uses an 11-tap sigma-1.5 window, shrunk (odd, same shape) for short axes', () => {
    const w = gaussianWindow(64);
    expect(w).toHaveLength(11);
    const raw = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / 4.5));
    const sum = raw.reduce((s, v) => s + v, 0);
    expect(w[5]).toBeCloseTo(1 / sum, 15);
    expect(w[0]).toBeCloseTo(raw[0] / sum, 15);
    expect([gaussianWindow(11), gaussianWindow(10), gaussianWindow(6), gaussianWindow(2), gaussianWindow(1)].map((x) => x.length)).toEqual([11, 9, 5, 1, 1]);
    const five = gaussianWindow(6); // sigma 1.5 * 5 / 11
    expect(five.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 15);
    expect(five[0] / five[2]).toBeCloseTo(Math.exp(-4 / (2 * (7.5 / 11) ** 2)), 12);
  });

  it('names the bad argument', () => {
    const a = new Float32Array(16);
    expect(() => ssim(a, a, [16], 2)).toThrow(/^shape: expected \[H, W\] or \[D, H, W\]/);
    expect(() => ssim(a, a, [4, 0], 2)).toThrow(/^shape: /);
    expect(() => ssim(a, new Float32Array(15), [4, 4], 2)).toThrow(/^b: 15 values, expected 16$/);
    expect(() => ssim(a, a, [4, 4], -1)).toThrow(/^range: /);
    expect(() => ssim(a.map((_, i) => (i === 3 ? NaN : 0)), a, [4, 4], 2)).toThrow(/^a: value 3 is NaN/);
  });
});
