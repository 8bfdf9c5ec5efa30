// Asymmetric matchers for figures in JSON reports. `expect.any(Number)` would
// accept NaN, -5 and 0 where a report promises a measured positive figure.
function numberMatcher(name: string, ok: (v: number) => boolean) {
  return {
    asymmetricMatch: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && ok(v),
    toString: () => name,
    toAsymmetricMatcher: () => name,
  };
}

/** A finite number > 0 (a time, a size, a rate). */
export const positive = numberMatcher('positive finite number', (v) => v > 0);
/** A finite number >= 0 (a growth or a count that may be nothing). */
export const nonNegative = numberMatcher('non-negative finite number', (v) => v >= 0);
/** Any finite number (a distance, a score of either sign). */
export const finite = numberMatcher('finite number', () => true);
