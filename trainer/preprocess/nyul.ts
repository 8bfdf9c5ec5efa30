// Nyul-Udupa intensity standardisation (Nyul and Udupa 1999, "On standardizing
// the MR image intensity scale"; Nyul, Udupa and Zhang 2000; DESIGN §3.4).
//
// Landmarks: for each volume, the foreground percentiles
//   mu = [p_low, 10, 20, ..., 90, p_high]  (p_low = 1, p_high = 99)
// at intensities m_1 < ... < m_L.
//
// Training (fitNyul): map each training volume's landmarks linearly so that
// [m_1, m_L] -> [s_min, s_max],
//   m'_l = s_min + (m_l - m_1) / (m_L - m_1) (s_max - s_min),
// then average over the training set: the standard scale s_l = mean_j m'_{j,l}.
// By construction s_1 = s_min and s_L = s_max.
//
// Transformation (applyNyul): piecewise linear from the volume's own landmarks
// m_l onto the standard ones s_l; below m_1 and above m_L the first and last
// segments' slopes extrapolate (Nyul and Udupa map [m_1, m_L] only and let the
// tails follow the end segments). Clipping is the caller's choice; nyulToModel
// clips to [-1, 1], which saturates the darkest and brightest 1% of foreground
// and sends the background (below p_low) to -1.
//
// Choice of [s_min, s_max] = [0, 100]: the standard scale is then read as
// "percent of the way from the 1st to the 99th foreground percentile of an
// average training volume", a unit-free number that survives any scanner's
// gain and offset. The values only matter through the checkpoint (model space
// [-1, 1] spans [s_min, s_max] linearly, shared/intensity.ts), so any s_min <
// s_max gives the same model inputs; 0..100 keeps the written-back images
// readable. (Nyul and Udupa used 1..4095, 12-bit display values; the
// intensity-normalization package uses 1..100.)
import type { IntensityMapping } from '../../shared/intensity.ts';
import type { Volume } from '../data/types.ts';
import { assertMask, assertVolume, fmt, percentileOfSorted, PreprocessError, sortedValues } from './common.ts';
import { foregroundMask, fromRealUnits } from './window.ts';

export type MaskFn = (v: Volume) => Uint8Array;

export interface NyulOptions {
  /** Lowest landmark percentile (p_low). Default 1. */
  pLow?: number;
  /** Highest landmark percentile (p_high). Default 99. */
  pHigh?: number;
  /** Inner landmark percentiles, strictly inside (p_low, p_high). Default the deciles 10..90. */
  landmarks?: number[];
  /** Standard scale's ends; see the note at the top of this file. Defaults 0 and 100. */
  sMin?: number;
  sMax?: number;
  /** Foreground per volume; percentiles are taken over it only. Default foregroundMask(v) (window.ts). */
  mask?: MaskFn;
}

/** The learned standard scale: `scale[l]` is the standard intensity of percentile `percentiles[l]`. */
export interface NyulFit {
  percentiles: number[];
  scale: number[];
}

export const DECILES = [10, 20, 30, 40, 50, 60, 70, 80, 90];

/** [p_low, ...landmarks, p_high], validated strictly increasing within [0, 100]. */
export function nyulPercentiles(opts: Pick<NyulOptions, 'pLow' | 'pHigh' | 'landmarks'> = {}): number[] {
  const ps = [opts.pLow ?? 1, ...(opts.landmarks ?? DECILES), opts.pHigh ?? 99];
  for (let i = 0; i < ps.length; i++) {
    if (!Number.isFinite(ps[i]) || ps[i] < 0 || ps[i] > 100) throw new Error(`nyul: percentile ${ps[i]} is outside [0, 100]`);
    if (i > 0 && !(ps[i] > ps[i - 1])) throw new Error(`nyul: percentiles must increase strictly, got ${fmt(ps)}`);
  }
  return ps;
}

function maskOf(v: Volume, mask: Uint8Array | MaskFn | undefined): Uint8Array {
  return assertMask(v, mask === undefined ? foregroundMask(v) : typeof mask === 'function' ? mask(v) : mask);
}

/** The volume's landmark intensities m_l at `ps`, over its foreground; throws when there is none or it is flat. */
export function nyulLandmarks(volume: Volume, ps: readonly number[], mask?: Uint8Array | MaskFn): number[] {
  assertVolume(volume);
  const sorted = sortedValues(volume.data, maskOf(volume, mask));
  if (sorted.length < 2) throw new PreprocessError([volume.source], 'nyul: the foreground mask is empty');
  const m = ps.map((p) => percentileOfSorted(sorted, p));
  if (!(m[m.length - 1] > m[0])) {
    throw new PreprocessError([volume.source], `nyul: the foreground is flat (percentiles ${ps[0]} and ${ps[ps.length - 1]} are both ${m[0]})`);
  }
  return m;
}

/** Learns the standard scale from training volumes (see the top of this file). */
export function fitNyul(volumes: readonly Volume[], opts: NyulOptions = {}): NyulFit {
  if (volumes.length === 0) throw new Error('nyul: no training volumes');
  const ps = nyulPercentiles(opts);
  const sMin = opts.sMin ?? 0;
  const sMax = opts.sMax ?? 100;
  if (!(Number.isFinite(sMin) && Number.isFinite(sMax) && sMax > sMin)) throw new Error(`nyul: need sMin < sMax, got ${sMin}, ${sMax}`);
  return { percentiles: ps, scale: standardScale(volumes.map((v) => nyulLandmarks(v, ps, opts.mask)), sMin, sMax) };
}

/** The standard scale from each training volume's landmarks m_{j,l}: mean_j of m_{j,l} mapped by [m_{j,1}, m_{j,L}] -> [sMin, sMax]. */
export function standardScale(landmarks: readonly (readonly number[])[], sMin = 0, sMax = 100): number[] {
  if (landmarks.length === 0) throw new Error('nyul: no training volumes');
  const sum = new Float64Array(landmarks[0].length);
  for (const m of landmarks) {
    const L = m.length - 1;
    if (m.length !== sum.length || !(m[L] > m[0])) throw new Error(`nyul: bad landmarks ${fmt(m)}`);
    for (let l = 0; l <= L; l++) sum[l] += sMin + ((m[l] - m[0]) / (m[L] - m[0])) * (sMax - sMin);
  }
  const scale = Array.from(sum, (s) => s / landmarks.length);
  // Exact ends: the mean of n copies of sMin may differ from sMin by an ulp.
  scale[0] = sMin;
  scale[scale.length - 1] = sMax;
  return scale;
}

/**
 * Piecewise-linear map taking the landmarks `m` (non-decreasing) onto `s`,
 * extrapolated beyond the ends with the end segments' slopes. Monotone
 * non-decreasing when `s` is. Tied landmarks (a flat stretch of the
 * histogram) make a jump: the tied value maps to the lower of their standard
 * values, anything above it starts from the upper one, so the map stays monotone.
 */
export function piecewiseLinear(values: Float32Array, m: readonly number[], s: readonly number[]): Float32Array {
  if (m.length !== s.length || m.length < 2) throw new Error(`nyul: ${m.length} landmarks for ${s.length} standard values`);
  const L = m.length - 1;
  if (!(m[L] > m[0])) throw new Error('nyul: landmarks span an empty range');
  // End slopes; a zero-width end segment falls back to the overall slope.
  const overall = (s[L] - s[0]) / (m[L] - m[0]);
  const slopeLow = m[1] > m[0] ? (s[1] - s[0]) / (m[1] - m[0]) : overall;
  const slopeHigh = m[L] > m[L - 1] ? (s[L] - s[L - 1]) / (m[L] - m[L - 1]) : overall;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x <= m[0]) out[i] = s[0] + (x - m[0]) * slopeLow;
    else if (x >= m[L]) out[i] = s[L] + (x - m[L]) * slopeHigh;
    else {
      // first segment k with x <= m[k + 1] (binary search; L is ~11)
      let lo = 0;
      let hi = L - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x <= m[mid + 1]) hi = mid;
        else lo = mid + 1;
      }
      const w = m[lo + 1] - m[lo]; // > 0: x > m[lo] and x <= m[lo + 1]
      out[i] = s[lo] + ((x - m[lo]) / w) * (s[lo + 1] - s[lo]);
    }
  }
  return out;
}

/** The volume on the standard scale: piecewise linear from its own foreground landmarks to `fit.scale`. */
export function applyNyul(volume: Volume, fit: NyulFit, opts: { mask?: Uint8Array | MaskFn } = {}): Float32Array {
  const m = nyulLandmarks(volume, fit.percentiles, opts.mask);
  return piecewiseLinear(volume.data, m, fit.scale);
}

/** The checkpoint's mapping for a fit (model space [-1, 1] spans [scale[0], scale[last]]). */
export function nyulMapping(fit: NyulFit, unit = ''): Extract<IntensityMapping, { kind: 'nyul' }> {
  return { kind: 'nyul', percentiles: [...fit.percentiles], scale: [...fit.scale], unit };
}

/** Standard scale -> model space: x = 2 (s - scale[0]) / (scale[last] - scale[0]) - 1, clipped to [-1, 1]. */
export function nyulToModel(values: Float32Array, fit: NyulFit): Float32Array {
  return fromRealUnits(values, nyulMapping(fit));
}
