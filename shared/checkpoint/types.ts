// Host-side tensor types and the parser's size caps (DESIGN §4).

/** A float32 tensor in host memory, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
  /** An int8 checkpoint's stored form of `data` (data = q scale[c] along axis): engines that run int8 weights take it. */
  int8?: Int8Form;
}

/** Symmetric per-channel int8: w = q[i] scale[c] for channel c of i along `axis` (quantize.ts). */
export interface Int8Form {
  q: Int8Array;
  scale: Float32Array;
  axis: number;
}

export type Dtype = 'float32' | 'float16' | 'int8';
export const DTYPES: readonly Dtype[] = ['float32', 'float16', 'int8'];

export const BYTES_PER_ELEMENT: Record<Dtype, number> = { float32: 4, float16: 2, int8: 1 };

/** One tensor as stored in a shard: raw little-endian bytes, not yet dequantised. */
export interface StoredTensor {
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
  /** int8 only: one float32 (LE) scale per channel along `axis`. */
  scale?: Uint8Array;
  /** int8 only: the quantisation axis. */
  axis?: number;
}

/** Caps applied before anything proportional to a declared size is allocated. */
export interface Limits {
  maxManifestBytes: number;
  maxShardBytes: number;
  /** Sum of all shard sizes a manifest may declare. */
  maxTotalBytes: number;
  maxTensors: number;
  maxRank: number;
  /** Elements per tensor. */
  maxElements: number;
  maxNameLength: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxManifestBytes: 16 * 2 ** 20,
  maxShardBytes: 256 * 2 ** 20,
  maxTotalBytes: 4 * 2 ** 30,
  maxTensors: 100_000,
  maxRank: 6,
  maxElements: 2 ** 28,
  maxNameLength: 512,
});

export function resolveLimits(limits: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const v = limits[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0)) throw new RangeError(`checkpoint limit ${key} must be a number >= 0, got ${String(v)}`);
    out[key] = v;
  }
  return out;
}

/**
 * Element count of `shape`, or a reason it is unacceptable. Stops multiplying
 * once the cap is passed so absurd shapes never overflow or allocate.
 */
export function checkShape(shape: unknown, limits: Limits): { count: number } | { error: string } {
  if (!Array.isArray(shape)) return { error: 'shape is not an array' };
  if (shape.length > limits.maxRank) return { error: `rank ${shape.length} exceeds the limit of ${limits.maxRank}` };
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d <= 0) {
      return { error: `dimension ${i} of the shape is ${describeValue(d)}, not a positive integer` };
    }
    count *= d;
    if (count > limits.maxElements) {
      return { error: `shape [${shape.map(describeValue).join(', ')}] has more than ${limits.maxElements} elements` };
    }
  }
  return { count };
}

function describeValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === null) return 'null';
  return typeof v;
}

/**
 * Where a checkpoint's files come from: a folder, a URL prefix, a storage
 * bucket, memory. `location` prefixes file names in error messages.
 */
export interface CheckpointSource {
  readonly location: string;
  /**
   * The whole file. `onBytes` reports the bytes received so far as they
   * arrive. When `maxBytes` is given, a file larger than that must fail with a
   * CheckpointError before (or while) it is read, never be buffered whole.
   * A file that does not exist fails with a CheckpointError with `missing` set.
   */
  read(file: string, onBytes?: (loaded: number) => void, maxBytes?: number): Promise<Uint8Array>;
}

/**
 * Why `file` is not a plain file name inside a checkpoint folder (separators,
 * traversal, odd characters), or undefined when it is one.
 */
export function fileNameProblem(file: string): string | undefined {
  if (typeof file !== 'string' || file.length === 0) return 'empty file name';
  if (file === '.' || file === '..') return `file name ${JSON.stringify(file)} is a directory reference`;
  if (!/^[A-Za-z0-9._-]+$/.test(file)) return `file name ${JSON.stringify(file)} is not a plain name (letters, digits, '.', '_', '-')`;
  return undefined;
}
