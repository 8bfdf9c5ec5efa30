// Writes a checkpoint (manifest.json + msgpack shards) from host tensors.
// Pure: returns the files; sampler/node/checkpoint-folder.ts puts them on disk.
import { CheckpointError } from './errors.ts';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, MANIFEST_FILE, shardFileName, validateManifest } from './manifest.ts';
import type { Manifest, ShardSpec, TensorSpec } from './manifest.ts';
import { FP16_MAX, encodeFloat16, float32ToBytes, quantizeInt8 } from './quantize.ts';
import { assembleShard, encodeShardEntry, sha256Hex, shardHeaderBytes } from './shard.ts';
import { DEFAULT_LIMITS, checkShape } from './types.ts';
import type { HostTensor, StoredTensor } from './types.ts';

export type Quantization = Manifest['quantization'];
export type CheckpointMeta = Omit<Manifest, 'format' | 'version' | 'quantization' | 'shards' | 'tensors'>;

export interface EncodeOptions {
  quantization: Quantization;
  /** Target shard size; a tensor larger than this gets a shard of its own. Default 4 MiB. */
  shardBytes?: number;
}

export const DEFAULT_SHARD_BYTES = 4 * 2 ** 20;

function fail(reason: string): never {
  throw new CheckpointError('checkpoint writer', reason);
}

function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
}

/** Validates one tensor and converts it to its stored form. */
function toStored(name: string, t: HostTensor, quantization: Quantization): StoredTensor {
  if (typeof name !== 'string' || name.length === 0) fail('empty tensor name');
  if (name.length > DEFAULT_LIMITS.maxNameLength) {
    fail(`tensor name ${quote(name)} is longer than ${DEFAULT_LIMITS.maxNameLength} characters`);
  }
  const where = `tensor ${quote(name)}`;
  if (!(t?.data instanceof Float32Array)) fail(`${where}: data is not a Float32Array`);
  const checked = checkShape(t.shape, DEFAULT_LIMITS);
  if ('error' in checked) fail(`${where}: ${checked.error}`);
  if (checked.count !== t.data.length) {
    fail(`${where}: shape [${t.shape.join(', ')}] needs ${checked.count} values, data has ${t.data.length}`);
  }
  const x = t.data;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) fail(`${where}: value ${x[i]} at index ${i} is not finite`);
  }
  const shape = [...t.shape];
  switch (quantization) {
    case 'fp32':
      return { dtype: 'float32', shape, data: float32ToBytes(x) };
    case 'fp16':
      for (let i = 0; i < x.length; i++) {
        if (Math.abs(x[i]) > FP16_MAX) {
          fail(`${where}: value ${x[i]} at index ${i} is outside the fp16 range (|x| <= ${FP16_MAX}); export as fp32 or int8`);
        }
      }
      return { dtype: 'float16', shape, data: encodeFloat16(x) };
    case 'int8': {
      // Biases, norm gains and other rank < 2 tensors are small and sensitive: keep them float32.
      if (shape.length < 2) return { dtype: 'float32', shape, data: float32ToBytes(x) };
      const axis = shape.length - 1;
      const { q, scale } = quantizeInt8(x, shape, axis);
      return {
        dtype: 'int8',
        shape,
        data: new Uint8Array(q.buffer, q.byteOffset, q.byteLength),
        scale: float32ToBytes(scale),
        axis,
      };
    }
    default:
      return fail(`unknown quantization ${JSON.stringify(quantization)} (expected fp32, fp16 or int8)`);
  }
}

/**
 * Encodes `tensors` as a checkpoint. Tensors go into shards greedily in name
 * order (so the same input always gives the same bytes); `files` holds the
 * shards and `manifest.json`.
 */
export async function encodeCheckpoint(
  tensors: Map<string, HostTensor>,
  meta: CheckpointMeta,
  opts: EncodeOptions,
): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isSafeInteger(shardBytes) || shardBytes <= 0) fail(`shardBytes must be a positive integer, got ${shardBytes}`);
  if (!['fp32', 'fp16', 'int8'].includes(opts.quantization)) {
    fail(`unknown quantization ${JSON.stringify(opts.quantization)} (expected fp32, fp16 or int8)`);
  }
  if (tensors.size === 0) fail('no tensors to write');
  if (tensors.size > DEFAULT_LIMITS.maxTensors) fail(`${tensors.size} tensors, over the limit of ${DEFAULT_LIMITS.maxTensors}`);

  const names = [...tensors.keys()].sort(); // code-unit order: locale independent
  const groups: { names: string[]; stored: StoredTensor[]; encoded: Uint8Array[]; size: number }[] = [];
  let current: (typeof groups)[number] | undefined;
  for (const name of names) {
    const stored = toStored(name, tensors.get(name)!, opts.quantization);
    const encoded = encodeShardEntry(name, stored);
    if (encoded.length + shardHeaderBytes(1) > DEFAULT_LIMITS.maxShardBytes) {
      fail(`tensor ${quote(name)} needs ${encoded.length} bytes, more than the ${DEFAULT_LIMITS.maxShardBytes}-byte shard limit readers enforce`);
    }
    if (current) {
      const n = current.encoded.length + 1;
      if (current.size + encoded.length + shardHeaderBytes(n) > shardBytes) current = undefined;
    }
    if (!current) {
      current = { names: [], stored: [], encoded: [], size: 0 };
      groups.push(current);
    }
    current.names.push(name);
    current.stored.push(stored);
    current.encoded.push(encoded);
    current.size += encoded.length;
  }

  const files = new Map<string, Uint8Array>();
  const shards: ShardSpec[] = [];
  const specs: TensorSpec[] = [];
  let total = 0;
  for (let g = 0; g < groups.length; g++) {
    const file = shardFileName(g);
    const bytes = assembleShard(groups[g].encoded);
    groups[g].encoded = []; // let the per-entry copies go
    total += bytes.length;
    files.set(file, bytes);
    shards.push({ file, bytes: bytes.length, sha256: await sha256Hex(bytes) });
    groups[g].names.forEach((name, i) => {
      const s = groups[g].stored[i];
      const spec: TensorSpec = { name, shape: s.shape, dtype: s.dtype, shard: file };
      if (s.axis !== undefined) spec.axis = s.axis;
      specs.push(spec);
    });
  }
  if (total > DEFAULT_LIMITS.maxTotalBytes) fail(`checkpoint is ${total} bytes, over the ${DEFAULT_LIMITS.maxTotalBytes}-byte limit readers enforce`);

  const manifest = validateManifest(
    // format and version first in the JSON, and never overridden by `meta`.
    Object.assign({ format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION }, meta, {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      quantization: opts.quantization,
      shards,
      tensors: specs,
    }),
    MANIFEST_FILE,
  );
  files.set(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  return { manifest, files };
}
