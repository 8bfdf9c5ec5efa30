import { describe, expect, it } from 'vitest';
import { MetricError } from '../../../../trainer/evaluate/metrics/common.ts';
import { psnr } from '../../../../trainer/evaluate/metrics/psnr.ts';

describe('psnr', () => {
  it('matches hand-computed values of 10 log10(L^2 / MSE)', () => {
    // MSE = 1 (every difference is +-1), L = 2: 10 log10(4) = 6.0206 dB.
    expect(psnr(new Float32Array(4), Float32Array.of(1, -1, 1, -1), 2)).toBeCloseTo(6.020599913279624, 12);
    // MSE = (0.25^2 + 0.25^2) / 2 = 0.0625, L = 1: 10 log10(16) = 12.0412 dB.
    expect(psnr(Float32Array.of(0.5, 0.25), Float32Array.of(0.25, 0.5), 1)).toBeCloseTo(12.041199826559248, 12);
    // MSE = 4^2 / 4 = 4, L = 255 (8-bit): 10 log10(65025 / 4) = 42.1102 dB.
    expect(psnr(Float32Array.of(0, 0, 0, 0), Float32Array.of(4, 0, 0, 0), 255)).toBeCloseTo(42.110203695, 8);
    // Inputs are exact in float32 and the sums run in float64, so 12 digits hold.
  });

  it('is Infinity for identical inputs and symmetric', () => {
    const a = Float32Array.of(0.1, -0.7, 0.3);
    const b = Float32Array.of(0.2, -0.5, 0.9);
    expect(psnr(a, a.slice(), 2)).toBe(Infinity);
    expect(psnr(a, b, 2)).toBe(psnr(b, a, 2));
  });

  it('names the bad argument', () => {
    expect(() => psnr(new Float32Array(2), new Float32Array(3), 2)).toThrow(/^b: 3 values, expected 2$/);
    expect(() => psnr(new Float32Array(0), new Float32Array(0), 2)).toThrow(/^a: expected a non-empty/);
    expect(() => psnr(new Float32Array(2), new Float32Array(2), 0)).toThrow(/^range: /);
    expect(() => psnr(new Float32Array(2), new Float32Array(2), NaN)).toThrow(/^range: /);
    expect(() => psnr(Float32Array.of(NaN, 0), new Float32Array(2), 1)).toThrow(/^a: value 0 is NaN/);
    expect(() => psnr(new Float32Array(2), Float32Array.of(0, Infinity), 1)).toThrow(/^b: value 1 is Infinity/);
    expect(() => psnr(new Float32Array(2), new Float32Array(3), 2)).toThrow(MetricError);
  });
});
