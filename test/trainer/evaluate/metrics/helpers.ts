import { Rng } from '../../../../shared/rng.ts';

/** A smooth random image in [-1, 1] (2D or 3D): `count` seeded Gaussian blobs on a -1 background. */
export function blobs(shape: number[], seed: number, count = 4): Float32Array {
  const rng = new Rng(seed, 7);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n).fill(-1);
  const centres = Array.from({ length: count }, () => shape.map((s) => rng.uniform(1)[0] * s));
  const radius = Math.min(...shape) / 4;
  const p = shape.map(() => 0);
  for (let i = 0; i < n; i++) {
    let rem = i;
    for (let a = shape.length - 1; a >= 0; a--) {
      p[a] = rem % shape[a];
      rem = Math.floor(rem / shape[a]);
    }
    for (const c of centres) {
      const d2 = p.reduce((s, v, a) => s + (v - c[a]) ** 2, 0);
      out[i] = Math.max(out[i], 2 * Math.exp(-d2 / (2 * radius * radius)) - 1);
    }
  }
  return out;
}

/** x plus seeded Gaussian noise of std `sigma` (the same draw for one seed, whatever sigma). */
export function noisy(x: Float32Array, sigma: number, seed: number): Float32Array {
  const z = new Rng(seed, 9).normal(x.length);
  return x.map((v, i) => v + sigma * z[i]);
}

/** `n` seeded blob images of `shape`, image i from seed base * 1000 + i. */
export function blobSet(shape: number[], base: number, n: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => blobs(shape, base * 1000 + i));
}
