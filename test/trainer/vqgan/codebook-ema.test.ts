// The EMA codebook against hand-computed updates, data-driven init, dead-code
// restart and perplexity (pure host code: no backend involved).
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../shared/rng.ts';
import { CodebookEma, perplexity, randomRows } from '../../../trainer/vqgan/codebook-ema.ts';

const rows = (a: Float32Array, dim: number) => Array.from({ length: a.length / dim }, (_, i) => Array.from(a.subarray(i * dim, (i + 1) * dim)));

describe('CodebookEma', () => {
  it('one EMA step matches the hand computation (decay 0.5, no smoothing)', () => {
    // K = 2 codes of width 1, both with N = 1 and m = e = [0, 2].
    const cb = new CodebookEma(2, 1, { decay: 0.5, eps: 0, restartThreshold: 0 }, Float32Array.from([0, 2]));
    cb.clusterSize.fill(1);
    // Rows 0.5 -> code 0; 1.5 and 3 -> code 1: n = [1, 2], sums = [0.5, 4.5].
    const { deadCodes } = cb.update(Float32Array.from([0.5, 1.5, 3]), Int32Array.from([0, 1, 1]), new Rng(1));
    // N = 0.5 [1, 1] + 0.5 [1, 2] = [1, 1.5]; m = 0.5 [0, 2] + 0.5 [0.5, 4.5] = [0.25, 3.25]; e = m / N.
    expect(Array.from(cb.clusterSize)).toEqual([1, 1.5]);
    expect(Array.from(cb.embedSum)).toEqual([0.25, 3.25]);
    expect(cb.embeddings[0]).toBeCloseTo(0.25, 6);
    expect(cb.embeddings[1]).toBeCloseTo(3.25 / 1.5, 6);
    expect(deadCodes).toBe(0);
  });

  it('Laplace smoothing: e_k = m_k / ((N_k + eps) / (n + K eps) * n)', () => {
    const cb = new CodebookEma(2, 1, { decay: 0.5, eps: 0.5, restartThreshold: 0 }, Float32Array.from([0, 2]));
    cb.clusterSize.fill(1);
    cb.update(Float32Array.from([0.5, 1.5, 3]), Int32Array.from([0, 1, 1]), new Rng(1));
    // n = 2.5; smoothed sizes (1.5 / 3.5) 2.5 and (2 / 3.5) 2.5.
    expect(cb.embeddings[0]).toBeCloseTo(0.25 / ((1.5 / 3.5) * 2.5), 6);
    expect(cb.embeddings[1]).toBeCloseTo(3.25 / ((2 / 3.5) * 2.5), 6);
  });

  it('init from data: codes are distinct rows of the batch, N = 1, m = e', () => {
    const z = Float32Array.from({ length: 10 * 2 }, (_, i) => i); // 10 distinct rows of width 2
    const cb = new CodebookEma(4, 2, { decay: 0.99, eps: 1e-7, restartThreshold: 1 }, new Float32Array(8));
    cb.init(z, new Rng(3));
    const codes = rows(cb.embeddings, 2);
    const zRows = rows(z, 2).map(String);
    expect(codes.every((r) => zRows.includes(String(r)))).toBe(true);
    expect(new Set(codes.map(String)).size).toBe(4);
    expect(Array.from(cb.clusterSize)).toEqual([1, 1, 1, 1]);
    expect(Array.from(cb.embedSum)).toEqual(Array.from(cb.embeddings));
    expect(cb.initialised).toBe(true);
  });

  it('init from fewer rows than codes tiles them with noise of std 0.01 / sqrt(E)', () => {
    const z = Float32Array.from([1, 1, -1, -1]); // 2 rows of width 2
    const cb = new CodebookEma(6, 2, { decay: 0.99, eps: 1e-7, restartThreshold: 1 }, new Float32Array(12));
    cb.init(z, new Rng(4));
    const codes = rows(cb.embeddings, 2);
    // Each code is one of the rows plus noise (|noise| < 6 std = 0.042); all differ.
    for (const c of codes) expect(Math.min(Math.hypot(c[0] - 1, c[1] - 1), Math.hypot(c[0] + 1, c[1] + 1))).toBeLessThan(0.06);
    expect(new Set(codes.map(String)).size).toBe(6);
  });

  it('restarts exactly the codes whose cluster size falls below the threshold, at rows of the batch', () => {
    const cb = new CodebookEma(4, 1, { decay: 0.9, eps: 1e-7, restartThreshold: 1 }, Float32Array.from([0, 10, 20, 30]));
    cb.clusterSize.set([5, 5, 1, 1]);
    cb.embedSum.set([0, 50, 20, 30]);
    // Codes 0 and 1 used; code 2 and 3 unused: N = 0.9 -> dead.
    const z = Float32Array.from([0.1, 9.9, 0.2, 10.1, -0.1, 10]);
    const { deadCodes } = cb.update(z, Int32Array.from([0, 1, 0, 1, 0, 1]), new Rng(5));
    expect(deadCodes).toBe(2);
    expect(cb.clusterSize[2]).toBeCloseTo(0.9, 6);
    const zRows = Array.from(z);
    expect(zRows).toContain(cb.embeddings[2]);
    expect(zRows).toContain(cb.embeddings[3]);
    expect(cb.embeddings[2]).not.toBe(cb.embeddings[3]); // drawn without replacement
    // Live codes keep their EMA means: N = 0.9 * 5 + 0.1 * 3, m1 = 0.9 * 50 + 0.1 * 30.
    expect(cb.clusterSize[1]).toBeCloseTo(4.8, 5);
    expect(cb.embeddings[1]).toBeCloseTo(48 / 4.8, 4);
  });

  it('draws the same rows from the same RNG state', () => {
    const z = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
    expect(Array.from(randomRows(z, 4, 5, 8, new Rng(9, 2, 7)))).toEqual(Array.from(randomRows(z, 4, 5, 8, new Rng(9, 2, 7))));
  });
});

describe('perplexity', () => {
  it('is the number of codes for uniform usage and 1 for a collapsed codebook', () => {
    expect(perplexity(Int32Array.from({ length: 64 }, (_, i) => i % 8), 16)).toBeCloseTo(8, 10);
    expect(perplexity(new Int32Array(50).fill(3), 16)).toBe(1);
    // Two codes at 3:1: exp(-(0.75 ln 0.75 + 0.25 ln 0.25)).
    expect(perplexity(Int32Array.from([0, 0, 0, 1]), 4)).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
  });
});
