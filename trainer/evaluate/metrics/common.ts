// What the metrics share: the error they throw for bad data, and the checks
// behind it. Images are row-major Float32Arrays over a shape [H, W] or
// [D, H, W] (single channel, W fastest). Options go through zod schemas and
// parseConfig (a ConfigError naming the option); the data through these
// checks (a MetricError naming the argument).
import { BadInputError } from '../../../shared/errors.ts';
import { percentileOfSorted } from '../../preprocess/common.ts';

/** Data a metric cannot use: `param` names the argument (e.g. "b", "train[3]", "shape"); the message is `${param}: ${reason}`. */
export class MetricError extends BadInputError {
  constructor(
    readonly param: string,
    readonly reason: string,
  ) {
    super(`${param}: ${reason}`);
    this.name = 'MetricError';
  }
}

/** [H, W] or [D, H, W]. */
export type Shape = readonly number[];

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

/** Throws unless `shape` is [H, W] or [D, H, W] of positive integers. */
export function checkShape(shape: Shape, param = 'shape'): void {
  if ((shape.length !== 2 && shape.length !== 3) || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new MetricError(param, `expected [H, W] or [D, H, W] of positive integers, got [${shape.join(', ')}]`);
  }
}

/** Throws unless `x` holds exactly `size` values, all finite. */
export function checkValues(x: Float32Array, size: number, param: string): void {
  if (!(x instanceof Float32Array)) throw new MetricError(param, 'expected a Float32Array');
  if (x.length !== size) throw new MetricError(param, `${x.length} values, expected ${size}`);
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new MetricError(param, `value ${i} is ${x[i]}, expected a finite number`);
}

/** Throws unless the set is non-empty and every image holds `size` finite values. */
export function checkSet(set: readonly Float32Array[], size: number, param: string): void {
  if (!Array.isArray(set) || set.length === 0) throw new MetricError(param, 'empty set, expected at least one image');
  set.forEach((x, i) => checkValues(x, size, `${param}[${i}]`));
}

/** Throws unless `range` (the data's max - min, e.g. 2 for [-1, 1]) is a positive finite number. */
export function checkRange(range: number): void {
  if (!(Number.isFinite(range) && range > 0)) throw new MetricError('range', `expected the data range (max - min) as a positive number, got ${range}`);
}

/** Median (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  return percentileOfSorted(Float32Array.from(values).sort(), 50);
}
