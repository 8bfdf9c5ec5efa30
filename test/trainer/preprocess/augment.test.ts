import { describe, expect, it } from 'vitest';
import { Rng } from '../../../shared/rng.ts';
import { flip, flipsAt, randomFlip } from '../../../trainer/preprocess/augment.ts';

describe('flip', () => {
  const x = Float32Array.from({ length: 12 }, (_, i) => i); // [2, 2, 3]

  it('mirrors exactly along each axis', () => {
    expect(Array.from(flip(x, [2, 2, 3], ['W']))).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]);
    expect(Array.from(flip(x, [2, 2, 3], ['H']))).toEqual([3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8]);
    expect(Array.from(flip(x, [2, 2, 3], ['D']))).toEqual([6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]);
    expect(Array.from(flip(x, [2, 2, 3], ['D', 'H', 'W']))).toEqual(Array.from(x).reverse());
    expect(Array.from(flip(flip(x, [2, 2, 3], ['W', 'D']), [2, 2, 3], ['W', 'D']))).toEqual(Array.from(x));
    expect(() => flip(x, [2, 2, 2], ['W'])).toThrow(/12 values/);
  });

  it('is deterministic in the seed and independent of call order', () => {
    const a = Array.from({ length: 64 }, (_, step) => flipsAt(7, step, 3).join());
    const b = Array.from({ length: 64 }, (_, k) => 63 - k)
      .map((step) => flipsAt(7, step, 3).join())
      .reverse();
    expect(a).toEqual(b);
    const other = Array.from({ length: 64 }, (_, step) => flipsAt(8, step, 3).join());
    expect(other).not.toEqual(a);
    // steps and seeds do not alias (seed 8, step k is not seed 7, step k + 1)
    const shifted = Array.from({ length: 64 }, (_, step) => flipsAt(8, step, 3).join());
    expect(shifted).not.toEqual(a.slice(1).concat(flipsAt(7, 64, 3).join()));
    const r1 = randomFlip(x, [2, 2, 3], new Rng(11), { axes: ['W', 'H'] });
    const r2 = randomFlip(x, [2, 2, 3], new Rng(11), { axes: ['W', 'H'] });
    expect(r1.flipped).toEqual(r2.flipped);
    expect(Array.from(r1.data)).toEqual(Array.from(r2.data));
  });

  it('flips with probability p, and the flipped data is the exact mirror', () => {
    let n = 0;
    for (let step = 0; step < 2000; step++) n += flipsAt(1, step, 0).length;
    expect(n / 2000).toBeGreaterThan(0.45);
    expect(n / 2000).toBeLessThan(0.55);
    expect(flipsAt(1, 5, 0, { p: 0 })).toEqual([]);
    expect(flipsAt(1, 5, 0, { p: 1, axes: ['D', 'W'] })).toEqual(['D', 'W']);
    const rng = new Rng(3);
    for (let k = 0; k < 20; k++) {
      const r = randomFlip(x, [2, 2, 3], rng);
      expect(Array.from(r.data)).toEqual(Array.from(r.flipped.length ? flip(x, [2, 2, 3], ['W']) : x));
    }
  });
});
