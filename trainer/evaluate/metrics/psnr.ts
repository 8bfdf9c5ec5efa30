// Peak signal-to-noise ratio in dB:
//   PSNR = 10 log10(L^2 / MSE),  MSE = mean_i (a_i - b_i)^2,
// with L the data range (2 for model space [-1, 1]; the window width for CT
// in HU). Identical inputs give +Infinity (MSE = 0). Summed in float64.
import { checkRange, checkValues, MetricError } from './common.ts';

/** PSNR (dB) between equal-length `a` and `b` whose data span `range`; Infinity when identical. */
export function psnr(a: Float32Array, b: Float32Array, range: number): number {
  checkRange(range);
  if (!(a instanceof Float32Array) || a.length === 0) throw new MetricError('a', 'expected a non-empty Float32Array');
  checkValues(a, a.length, 'a');
  checkValues(b, a.length, 'b');
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((range * range) / mse);
}
