// The building blocks against their definitions, computed in plain JS, on every backend.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupNorm, scaledDotAttention, timeEmbedding, upsample2x } from '../../../shared/models/layers.ts';
import { Rng } from '../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const normal = (n: number, seed: number) => new Rng(seed).normal(n);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** softmax(q k^T / sqrt(d)) v for one sequence, in float64. q, k, v: [L * d] row-major. */
function attentionRef(q: Float32Array, k: Float32Array, v: Float32Array, l: number, d: number): Float64Array {
  const out = new Float64Array(l * d);
  for (let i = 0; i < l; i++) {
    const s = new Float64Array(l);
    for (let j = 0; j < l; j++) {
      for (let c = 0; c < d; c++) s[j] += q[i * d + c] * k[j * d + c];
      s[j] /= Math.sqrt(d);
    }
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let j = 0; j < l; j++) for (let c = 0; c < d; c++) out[i * d + c] += (e[j] / z) * v[j * d + c];
  }
  return out;
}

describe.each(TEST_BACKENDS)('layers on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('groupNorm normalises each (sample, group) over positions and channels, then applies the affine', () => {
    const [b, n, c, groups] = [2, 12, 8, 4];
    const x = normal(b * n * c, 1).map((v, i) => v * 3 + (i % 5)); // non-zero mean, non-unit variance
    const g = normal(c, 2);
    const beta = normal(c, 3);
    const params = new Map([['gn.g', tf.tensor1d(g)], ['gn.b', tf.tensor1d(beta)]]);
    const xt = tf.tensor3d(x, [b, n, c]);
    const got = tf.tidy(() => groupNorm(params, 'gn', xt, groups)).dataSync();
    const want = new Float64Array(x.length);
    const cg = c / groups;
    for (let s = 0; s < b; s++) {
      for (let gi = 0; gi < groups; gi++) {
        const idx: number[] = [];
        for (let p = 0; p < n; p++) for (let k = 0; k < cg; k++) idx.push(s * n * c + p * c + gi * cg + k);
        const mean = idx.reduce((a, i) => a + x[i], 0) / idx.length;
        const vr = idx.reduce((a, i) => a + (x[i] - mean) ** 2, 0) / idx.length;
        for (const i of idx) want[i] = ((x[i] - mean) / Math.sqrt(vr + 1e-5)) * g[i % c] + beta[i % c];
      }
    }
    // float32 moments over 24 values: error ~1e-6 relative; outputs are O(3).
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    tf.dispose([xt, ...params.values()]);
  });

  it('timeEmbedding is [sin(1000 t f_i) | cos(1000 t f_i)] with f_i = 10000^(-i/(half-1))', () => {
    const t = tf.tensor1d([0, 0.25, 1]);
    const got = tf.tidy(() => timeEmbedding(t, 8)).arraySync();
    [0, 0.25, 1].forEach((tv, r) => {
      for (let i = 0; i < 4; i++) {
        const f = 10000 ** (-i / 3);
        // float32 argument 1000 t f up to 1000: sin/cos error ~1e-4 at that magnitude.
        expect(got[r][i]).toBeCloseTo(Math.sin(1000 * tv * f), 3);
        expect(got[r][4 + i]).toBeCloseTo(Math.cos(1000 * tv * f), 3);
      }
    });
    t.dispose();
  });

  it('upsample2x repeats each pixel into a 2x2 block, per channel', () => {
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i), [2, 2, 3, 2]);
    const got = tf.tidy(() => upsample2x(x));
    expect(got.shape).toEqual([2, 4, 6, 2]);
    const a = got.arraySync() as number[][][][];
    const src = x.arraySync() as number[][][][];
    for (let n = 0; n < 2; n++) for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) {
      expect(a[n][i][j]).toEqual(src[n][i >> 1][j >> 1]);
    }
    tf.dispose([x, got]);
  });

  // Both code paths: one matMul per sequence (few long sequences) and one batched matMul.
  it.each([
    ['per-sequence path', 2, 256, 4],
    ['batched path', 40, 6, 4],
  ])('scaledDotAttention (%s) matches softmax(q k^T / sqrt(d)) v', (_label, s, l, d) => {
    const n = s * l * d;
    const [q, k, v] = [normal(n, 4), normal(n, 5), normal(n, 6)];
    const [qt, kt, vt] = [q, k, v].map((a) => tf.tensor3d(a, [s, l, d]));
    const got = tf.tidy(() => scaledDotAttention(qt, kt, vt)).dataSync();
    const want = new Float64Array(n);
    for (let i = 0; i < s; i++) {
      const sl = (a: Float32Array) => a.subarray(i * l * d, (i + 1) * l * d);
      want.set(attentionRef(sl(q), sl(k), sl(v), l, d), i * l * d);
    }
    // Outputs are convex combinations of N(0, 1) values; float32 softmax over <= 256 terms: ~1e-6.
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    tf.dispose([qt, kt, vt]);
  });
});
