// Checks and small helpers the metrics share. Images are row-major
// Float32Arrays over a shape [H, W] or [D, H, W] (single channel).

export type Shape = readonly number[];

export const sizeOf = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

/** Throws naming `what` unless `shape` is 2D or 3D of positive integers. */
export function checkShape(shape: Shape, what = 'shape'): void {
  if ((shape.length !== 2 && shape.length !== 3) || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${what}: expected [H, W] or [D, H, W] of positive integers, got [${shape.join(', ')}]`);
  }
}

/** Throws naming `what` unless `x` has the shape's size and only finite values. */
export function checkImage(x: Float32Array, shape: Shape, what: string): void {
  if (x.length !== sizeOf(shape)) throw new Error(`${what}: ${x.length} values do not fill shape [${shape.join(', ')}] (${sizeOf(shape)})`);
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new Error(`${what}: value ${i} is ${x[i]}, expected a finite number`);
}

/** Throws naming `what` unless the set is non-empty and every image fits `shape`. */
export function checkSet(set: readonly Float32Array[], shape: Shape, what: string): void {
  if (set.length === 0) throw new Error(`${what}: empty set, expected at least one image`);
  set.forEach((x, i) => checkImage(x, shape, `${what}[${i}]`));
}

export function checkRange(range: number): void {
  if (!(Number.isFinite(range) && range > 0)) throw new Error(`range: expected a positive number (the data's max - min), got ${range}`);
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
