// Small summaries for the load bench: nearest-rank percentiles (no
// interpolation, so a reported latency is one that was measured), means, medians.

/** The p-th percentile (0 < p <= 100) by nearest rank; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function mean(values: readonly number[]): number | undefined {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
}

/** Median of the defined values (runs where a figure does not exist, e.g. no 200s, are left out). */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const s = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Rounds for the JSON report: milliseconds and MiB to 0.1. */
export const round1 = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 10) / 10);
