import { Rng } from '../../../../shared/rng.ts';

/** A smooth random image in [-1, 1]: a few seeded blobs over the grid (2D or 3D). */
export function blobs(shape: number[], seed: number, count = 4): Float32Array {
  const rng = new Rng(seed, 7);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n).fill(-1);
  const centres = Array.from({ length: count }, () => shape.map((s) => rng.uniform(1)[0] * s));
  const radius = Math.min(...shape) / 4;
  for (let i = 0; i < n; i++) {
    let rem = i;
    const p = shape.map(() => 0);
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

/** x plus seeded Gaussian noise of std `sigma`. */
export function noisy(x: Float32Array, sigma: number, seed: number): Float32Array {
  const z = new Rng(seed, 9).normal(x.length);
  return x.map((v, i) => v + sigma * z[i]);
}
