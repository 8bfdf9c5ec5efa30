// Peak signal-to-noise ratio: 10 log10(range^2 / MSE), in dB.
import { checkImage, checkRange } from './common.ts';

/** PSNR of `b` against `a` (same length) for data spanning `range`; Infinity when identical. */
export function psnr(a: Float32Array, b: Float32Array, range: number): number {
  checkRange(range);
  checkImage(a, [a.length, 1], 'a');
  checkImage(b, [a.length, 1], 'b');
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((range * range) / mse);
}
