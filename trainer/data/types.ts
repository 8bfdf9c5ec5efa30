// What every image reader returns, and the one error type they all throw.
//
// Readers decode to float32 in the file's own units (after rescale slope and
// intercept: HU for CT) and never reorient: voxels come in stored order with
// W fastest. Anything a reader changed or dropped on the way (a 4D file cut to
// its first volume, RGB folded to luminance) is said in `notes`, never silent.

import { BadInputError } from '../../shared/errors.ts';

export interface Volume {
  /** Row-major float32 voxels in the file's real units (after rescale slope/intercept; HU for CT). */
  data: Float32Array;
  /** [D, H, W] for volumes, [1, H, W] for 2D images (W varies fastest). */
  shape: [number, number, number];
  /** mm per voxel along [D, H, W]. */
  spacing: [number, number, number];
  modality?: 'xray' | 'mri' | 'ct' | string;
  /** Where it came from (file path, or folder for a series). */
  source: string;
  /** What the reader changed or assumed on the way, one sentence each (empty or absent when nothing). */
  notes?: string[];
}

/** A file that cannot be read: the message is `${file}: ${reason}`. */
export class ReadError extends BadInputError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'ReadError';
    this.file = file;
    this.reason = reason;
  }
}

/** `err` as a ReadError for `file` (kept as is when it already is one), the reason prefixed by `context`. */
export function asReadError(file: string, err: unknown, context = ''): ReadError {
  if (err instanceof ReadError) return err;
  const reason = errorText(err);
  return new ReadError(file, context ? `${context}: ${reason}` : reason);
}

/** The text of an error from a library that may throw strings or plain objects (dicom-parser does both). */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'exception' in err) return errorText((err as { exception: unknown }).exception);
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** Throws a ReadError unless shape has positive integer dims and data matches it. */
export function checkVolume(v: Volume): Volume {
  const [d, h, w] = v.shape;
  if (![d, h, w].every((n) => Number.isInteger(n) && n > 0)) throw new ReadError(v.source, `invalid shape [${v.shape.join(', ')}]`);
  if (v.data.length !== d * h * w) throw new ReadError(v.source, `decoded ${v.data.length} values but shape [${v.shape.join(', ')}] needs ${d * h * w}`);
  if (!v.spacing.every((s) => Number.isFinite(s) && s > 0)) throw new ReadError(v.source, `invalid spacing [${v.spacing.join(', ')}]`);
  return v;
}

/**
 * `bytes` as a plain Uint8Array over the same memory. Node's Buffer overrides
 * slice() to return a view, which would let "copies" alias the file buffer
 * (and a pooled one at that); on a plain Uint8Array slice() copies.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
