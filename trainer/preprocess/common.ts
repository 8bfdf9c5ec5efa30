// Helpers shared by the preprocessing steps: the error they throw, volume
// checks, and exact percentiles (numpy's default "linear" definition).
import { BadInputError } from '../../shared/errors.ts';
import type { Volume } from '../data/types.ts';

/** A volume (or set of volumes) preprocessing cannot use; the message names the file(s) and the reason. */
export class PreprocessError extends BadInputError {
  constructor(
    readonly sources: readonly string[],
    readonly reason: string,
  ) {
    super(sources.length ? `${sources.join(', ')}: ${reason}` : reason);
    this.name = 'PreprocessError';
  }
}

export type Shape3 = [number, number, number];

/** Throws a PreprocessError unless `v` has a positive integer shape, matching data and finite positive spacing. */
export function assertVolume(v: Volume): Volume {
  const [d, h, w] = v.shape;
  if (v.shape.length !== 3 || ![d, h, w].every((n) => Number.isInteger(n) && n > 0)) {
    throw new PreprocessError([v.source], `invalid shape [${v.shape.join(', ')}]`);
  }
  if (v.data.length !== d * h * w) {
    throw new PreprocessError([v.source], `${v.data.length} values do not fill shape [${v.shape.join(', ')}] (${d * h * w})`);
  }
  if (v.spacing.length !== 3 || !v.spacing.every((s) => Number.isFinite(s) && s > 0)) {
    throw new PreprocessError([v.source], `invalid spacing [${v.spacing.join(', ')}]`);
  }
  return v;
}

/** Throws unless `mask` has one entry per voxel of `v`. */
export function assertMask(v: Volume, mask: Uint8Array): Uint8Array {
  if (mask.length !== v.data.length) {
    throw new PreprocessError([v.source], `mask has ${mask.length} entries for ${v.data.length} voxels`);
  }
  return mask;
}

/** The values of `data` where `mask` is set (all of them without a mask), sorted ascending; NaNs dropped. */
export function sortedValues(data: Float32Array, mask?: Uint8Array): Float32Array {
  let n = 0;
  for (let i = 0; i < data.length; i++) if ((!mask || mask[i]) && data[i] === data[i]) n++;
  const out = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < data.length; i++) if ((!mask || mask[i]) && data[i] === data[i]) out[k++] = data[i];
  return out.sort(); // typed-array sort is numeric
}

/**
 * Percentile p (0..100) of ascending `sorted`, interpolating linearly between
 * order statistics at rank p/100 (n - 1) (numpy's default method).
 */
export function percentileOfSorted(sorted: Float32Array, p: number): number {
  if (sorted.length === 0) throw new Error('percentile of an empty set');
  const r = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const i = Math.floor(r);
  const f = r - i;
  return i + 1 < sorted.length ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/** Percentiles `ps` of `data` (restricted to `mask`). */
export function percentiles(data: Float32Array, ps: readonly number[], mask?: Uint8Array): number[] {
  const sorted = sortedValues(data, mask);
  return ps.map((p) => percentileOfSorted(sorted, p));
}

export function fmt(xs: readonly number[]): string {
  return `[${xs.map((x) => +x.toPrecision(6)).join(', ')}]`;
}
