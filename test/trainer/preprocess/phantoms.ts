// Synthetic volumes for the preprocessing tests: spheres of "tissue" in air
// with seeded noise (shared/rng.ts), so every test is reproducible.
import { Rng } from '../../../shared/rng.ts';
import type { Volume } from '../../../trainer/data/types.ts';

type Shape3 = [number, number, number];

/** Fills a [D, H, W] volume with f(d, h, w). */
export function volumeOf(shape: Shape3, spacing: Shape3, f: (d: number, h: number, w: number) => number, extra: Partial<Volume> = {}): Volume {
  const [D, H, W] = shape;
  const data = new Float32Array(D * H * W);
  let i = 0;
  for (let d = 0; d < D; d++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) data[i++] = f(d, h, w);
  return { data, shape, spacing, source: 'synthetic', ...extra };
}

/** Distance (mm) of voxel (d, h, w)'s centre from the volume's physical centre. */
export function radiusMm(shape: Shape3, spacing: Shape3, d: number, h: number, w: number): number {
  const z = (d - (shape[0] - 1) / 2) * spacing[0];
  const y = (h - (shape[1] - 1) / 2) * spacing[1];
  const x = (w - (shape[2] - 1) / 2) * spacing[2];
  return Math.hypot(z, y, x);
}

/**
 * A layered sphere: radius R mm, tissue classes by radius (core 80, middle 50,
 * rim 110, like grey/CSF/white), Gaussian noise sigma, background `air`.
 */
export function layeredSphere(opts: { shape?: Shape3; spacing?: Shape3; R?: number; sigma?: number; air?: number; seed?: number; source?: string } = {}): Volume {
  const shape = opts.shape ?? [24, 24, 24];
  const spacing = opts.spacing ?? [1, 1, 1];
  const R = opts.R ?? 10;
  const sigma = opts.sigma ?? 4;
  const air = opts.air ?? 0;
  const noise = new Rng(opts.seed ?? 1).normal(shape[0] * shape[1] * shape[2]);
  let i = 0;
  return volumeOf(
    shape,
    spacing,
    (d, h, w) => {
      const r = radiusMm(shape, spacing, d, h, w);
      const n = noise[i++];
      if (r >= R) return air + Math.abs(n) * sigma * 0.5;
      const base = r < 0.4 * R ? 80 : r < 0.7 * R ? 50 : 110;
      return base + n * sigma;
    },
    { source: opts.source ?? 'sphere.nii', modality: 'mri' },
  );
}

/** 1 inside the sphere of radius R mm around the centre. */
export function sphereMask(shape: Shape3, spacing: Shape3, R: number): Uint8Array {
  const v = volumeOf(shape, spacing, (d, h, w) => (radiusMm(shape, spacing, d, h, w) < R ? 1 : 0));
  return Uint8Array.from(v.data);
}

/** `v` with f applied to every voxel (a scanner's gain, offset or non-linearity). */
export function mapped(v: Volume, f: (x: number) => number, source: string): Volume {
  return { ...v, data: v.data.map(f), source };
}

export function iou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    union += a[i] | b[i];
  }
  return inter / union;
}
