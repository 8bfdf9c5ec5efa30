import { describe, expect, it } from 'vitest';
import { Rng, threefry2x32 } from '../../shared/rng.ts';

describe('threefry2x32', () => {
  // Known-answer vectors from Random123 (kat_vectors, threefry2x32_20), also used by JAX's tests.
  it.each([
    [[0, 0, 0, 0], [0x6b200159, 0x99ba4efe]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
    [[0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3], [0xc4923a9c, 0x483df7a0]],
  ])('key/counter %j -> %j', ([k0, k1, c0, c1], expected) => {
    expect(threefry2x32(k0, k1, c0, c1)).toEqual(expected);
  });
});

describe('Rng', () => {
  it('is deterministic per (seed, stream) and differs across seeds and streams', () => {
    const a = new Rng(42, 0).normal(64);
    expect(new Rng(42, 0).normal(64)).toEqual(a);
    expect(new Rng(43, 0).normal(64)).not.toEqual(a);
    expect(new Rng(42, 1).normal(64)).not.toEqual(a);
  });

  it('continues exactly from a saved state', () => {
    const r = new Rng(7, 3);
    r.normal(10);
    const saved = r.state;
    const next = r.normal(10);
    expect(Rng.fromState(saved).normal(10)).toEqual(next);
  });

  it('draws standard normals (moments within 5 standard errors)', () => {
    const n = 200_000;
    const z = new Rng(1).normal(n);
    let m = 0;
    for (const v of z) m += v;
    m /= n;
    let v2 = 0;
    for (const v of z) v2 += (v - m) ** 2;
    v2 /= n - 1;
    expect(Math.abs(m)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(v2 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(z.every(Number.isFinite)).toBe(true);
  });

  it('draws uniforms in (0, 1) and integers in range', () => {
    const u = new Rng(9).uniform(10_001);
    expect(u.length).toBe(10_001);
    expect(u.every((x) => x > 0 && x < 1)).toBe(true);
    const r = new Rng(9);
    for (let i = 0; i < 100; i++) {
      const k = r.int(5);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThan(5);
    }
  });

  it('rejects bad seeds and streams with a clear error', () => {
    expect(() => new Rng(1.5)).toThrow(/seed must be a safe integer/);
    expect(() => new Rng(1, -1)).toThrow(/stream/);
    expect(() => new Rng(1, 2 ** 32)).toThrow('rng: stream must be an integer in [0, 2^32), got 4294967296');
    expect(new Rng(1, 2 ** 32 - 1).uniform(1)[0]).toBeGreaterThan(0);
  });

  // Known answers from the Threefry words themselves: (w + 1/2) / 2^32, counters 0, 1, ... of (seed, stream).
  const unit = (w: number) => Math.fround((w + 0.5) / 2 ** 32);
  const words = (seed: number, counters: number) => Array.from({ length: counters }, (_, c) => threefry2x32(seed, 0, c, 0)).flat();

  it('maps words to uniforms, two per counter, counters in order; an odd count drops the last word', () => {
    expect(Array.from(new Rng(5).uniform(3))).toEqual(words(5, 2).slice(0, 3).map(unit));
    // After 4 draws (counters 0, 1) the next come from counter 2; after 3 as well.
    const fresh = Array.from(new Rng(5).uniform(6));
    const r = new Rng(5);
    r.uniform(4);
    expect(Array.from(r.uniform(2))).toEqual(fresh.slice(4));
    const odd = new Rng(5);
    odd.uniform(3);
    expect(Array.from(odd.uniform(2))).toEqual(fresh.slice(4));
  });

  it('maps each word pair to a Box-Muller pair, counters in order', () => {
    const [a, b, c, d] = words(5, 2);
    const pair = (x: number, y: number) => {
      const r = Math.sqrt(-2 * Math.log((x + 0.5) / 2 ** 32));
      const theta = (2 * Math.PI * (y + 0.5)) / 2 ** 32;
      return [Math.fround(r * Math.cos(theta)), Math.fround(r * Math.sin(theta))];
    };
    expect(Array.from(new Rng(5).normal(4))).toEqual([...pair(a, b), ...pair(c, d)]);
    const r = new Rng(5);
    r.normal(4);
    expect(Array.from(r.normal(2))).toEqual(Array.from(new Rng(5).normal(6)).slice(4));
  });

  it('keeps uniforms below 1 where float32 would round the word up to 1.0 (counter 3154904 of seed 0)', () => {
    const [w] = threefry2x32(0, 0, 3154904, 0);
    expect(unit(w)).toBe(1); // what a plain Float32Array store would hold
    expect(new Rng(0, 0, 3154904).uniform(1)[0]).toBe(1 - 2 ** -24);
    expect(new Rng(0, 0, 3154904).int(7)).toBe(6);
  });

  it('refuses to draw past 2^32 counters instead of repeating', () => {
    const r = new Rng(0, 0, 2 ** 32 - 1);
    expect(r.uniform(2)).toHaveLength(2);
    expect(() => r.uniform(1)).toThrow('rng: stream exhausted (2^32 draws)');
  });
});

describe('Rng streams, tested as an RNG (the known answers are above)', () => {
  it('draws the two normals of a Box-Muller pair independently of each other and of the next pair', () => {
    const n = 40_000;
    const z = new Rng(11).normal(n);
    const corr = (lag: number, step: number) => {
      let sxy = 0;
      let m = 0;
      for (let i = 0; i + lag < n; i += step, m++) sxy += z[i] * z[i + lag];
      return sxy / m; // unit variance, zero mean: the correlation estimate, standard error 1 / sqrt(m)
    };
    // Within a pair (cos, sin of one angle), and across neighbouring pairs.
    for (const [lag, step] of [[1, 2], [2, 2], [1, 1]] as const) {
      expect(Math.abs(corr(lag, step)), `lag ${lag}`).toBeLessThan(5 / Math.sqrt(n / step));
    }
    // No value repeats inside a pair (a copied draw would).
    let repeats = 0;
    for (let i = 0; i + 1 < n; i += 2) if (z[i] === z[i + 1]) repeats++;
    expect(repeats).toBe(0);
  });

  it('draws int(n) uniformly over all of [0, n): chi-square below the 0.1% critical value', () => {
    // chi^2 critical values at p = 0.001 for n - 1 degrees of freedom.
    const critical: Record<number, number> = { 2: 10.83, 3: 13.82, 7: 22.46, 10: 27.88, 100: 148.23 };
    for (const [k, crit] of Object.entries(critical).map(([a, b]) => [Number(a), b])) {
      const rng = new Rng(5, k);
      const draws = 2000 * k;
      const counts = new Array(k).fill(0);
      for (let i = 0; i < draws; i++) {
        const v = rng.int(k);
        expect(Number.isInteger(v) && v >= 0 && v < k).toBe(true);
        counts[v]++;
      }
      const expected = draws / k;
      const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
      expect(chi2, `int(${k})`).toBeLessThan(crit);
    }
  });
});
