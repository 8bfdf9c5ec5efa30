// Loads a checkpoint from any CheckpointSource. Hostile-input parsing (the
// safetensors discipline, DESIGN §4): sizes are capped before reading, each
// shard's length and sha256 are verified before it is decoded, and the shards
// must hold exactly the tensors the manifest declares.
import { CheckpointError, describeError } from './errors.ts';
import { MANIFEST_FILE, parseManifest } from './manifest.ts';
import type { Manifest, TensorSpec } from './manifest.ts';
import { bytesToFloat32, decodeFloat16, dequantizeInt8 } from './quantize.ts';
import { decodeShard, sha256Hex } from './shard.ts';
import { BYTES_PER_ELEMENT, checkShape, resolveLimits } from './types.ts';
import type { CheckpointSource, HostTensor, Limits, StoredTensor } from './types.ts';

export type { CheckpointSource } from './types.ts';

export interface LoadProgress {
  file: string;
  fileLoaded: number;
  fileTotal: number;
  /** Shard bytes received so far, over all shards. */
  loaded: number;
  /** Sum of the manifest's shard sizes. */
  total: number;
}

export interface LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  limits?: Partial<Limits>;
}

function quote(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
}

function pathOf(source: CheckpointSource, file: string): string {
  return `${source.location}/${file}`;
}

/**
 * source.read with failures turned into CheckpointErrors: a source's own
 * CheckpointError passes through unless it reports a missing file, which (like
 * any foreign failure) becomes "missing <what>". Errors thrown by the caller's
 * progress callback propagate untouched.
 */
async function readFile(
  source: CheckpointSource,
  file: string,
  what: string,
  maxBytes: number,
  onBytes?: (loaded: number) => void,
): Promise<Uint8Array> {
  let callbackError: { error: unknown } | undefined;
  const guarded = onBytes
    ? (n: number) => {
        try {
          onBytes(n);
        } catch (e) {
          callbackError = { error: e };
          throw e;
        }
      }
    : undefined;
  let bytes: unknown;
  try {
    bytes = await source.read(file, guarded, maxBytes);
  } catch (e) {
    if (callbackError && e === callbackError.error) throw e;
    if (e instanceof CheckpointError && !e.missing) throw e;
    throw new CheckpointError(pathOf(source, file), `missing ${what} (${describeError(e)})`, { missing: true, cause: e });
  }
  if (!(bytes instanceof Uint8Array)) throw new CheckpointError(pathOf(source, file), 'the source returned no bytes');
  return bytes;
}

/** Reads and validates manifest.json (at most limits.maxManifestBytes). */
export async function readManifest(source: CheckpointSource, limits: Partial<Limits> = {}): Promise<Manifest> {
  const lim = resolveLimits(limits);
  const path = pathOf(source, MANIFEST_FILE);
  const bytes = await readFile(source, MANIFEST_FILE, MANIFEST_FILE, lim.maxManifestBytes);
  if (bytes.length > lim.maxManifestBytes) {
    throw new CheckpointError(path, `manifest is ${bytes.length} bytes, over the limit of ${lim.maxManifestBytes}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CheckpointError(path, 'manifest is not valid UTF-8');
  }
  return parseManifest(text, path);
}

/** Rejects manifests whose declared sizes exceed the limits, before any shard is read. */
function checkManifestLimits(source: CheckpointSource, m: Manifest, lim: Limits): void {
  const path = pathOf(source, MANIFEST_FILE);
  if (m.tensors.length > lim.maxTensors) {
    throw new CheckpointError(path, `manifest declares ${m.tensors.length} tensors, over the limit of ${lim.maxTensors}`);
  }
  let total = 0;
  const needed = new Map<string, number>();
  for (const s of m.shards) {
    if (s.bytes > lim.maxShardBytes) {
      throw new CheckpointError(
        pathOf(source, s.file),
        `the manifest declares ${s.bytes} bytes, over the shard limit of ${lim.maxShardBytes}`,
      );
    }
    total += s.bytes;
    needed.set(s.file, 0);
  }
  if (total > lim.maxTotalBytes) {
    throw new CheckpointError(path, `shards total ${total} bytes, over the limit of ${lim.maxTotalBytes}`);
  }
  for (const t of m.tensors) {
    if (t.name.length > lim.maxNameLength) {
      throw new CheckpointError(path, `tensor name ${quote(t.name)} is longer than ${lim.maxNameLength} characters`);
    }
    const checked = checkShape(t.shape, lim);
    if ('error' in checked) throw new CheckpointError(path, `tensor ${quote(t.name)}: ${checked.error}`);
    needed.set(t.shard, needed.get(t.shard)! + checked.count * BYTES_PER_ELEMENT[t.dtype]);
  }
  for (const s of m.shards) {
    if (needed.get(s.file)! > s.bytes) {
      throw new CheckpointError(
        path,
        `shard ${s.file} declares ${s.bytes} bytes but its tensors need at least ${needed.get(s.file)}`,
      );
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function dequantize(t: StoredTensor): Float32Array {
  switch (t.dtype) {
    case 'float32':
      return bytesToFloat32(t.data);
    case 'float16':
      return decodeFloat16(t.data);
    case 'int8':
      return dequantizeInt8(t.data, bytesToFloat32(t.scale!), t.shape, t.axis!);
  }
}

/**
 * Loads and verifies every tensor of a checkpoint, dequantised to float32.
 * The returned map is in manifest order.
 */
export async function loadCheckpoint(
  source: CheckpointSource,
  opts: LoadOptions = {},
): Promise<{ manifest: Manifest; tensors: Map<string, HostTensor> }> {
  const lim = resolveLimits(opts.limits);
  const manifest = await readManifest(source, lim);
  checkManifestLimits(source, manifest, lim);

  const specs = new Map<string, TensorSpec>();
  const perShard = new Map<string, TensorSpec[]>();
  for (const s of manifest.shards) perShard.set(s.file, []);
  for (const t of manifest.tensors) {
    specs.set(t.name, t);
    perShard.get(t.shard)!.push(t);
  }
  const total = manifest.shards.reduce((a, s) => a + s.bytes, 0);
  let done = 0;
  const loaded = new Map<string, { tensor: HostTensor; file: string }>();

  for (const shard of manifest.shards) {
    const path = pathOf(source, shard.file);
    function fail(reason: string): never {
      throw new CheckpointError(path, reason);
    }
    let fileLoaded = 0;
    const report = (n: number): void => {
      const clamped = Math.min(Math.max(0, n), shard.bytes);
      if (!(clamped > fileLoaded)) return; // only ever report progress forward
      fileLoaded = clamped;
      opts.onProgress?.({ file: shard.file, fileLoaded, fileTotal: shard.bytes, loaded: done + fileLoaded, total });
    };
    const bytes = await readFile(source, shard.file, `shard ${shard.file}`, shard.bytes, report);
    if (bytes.length < shard.bytes) {
      fail(`truncated shard: ${bytes.length} bytes, the manifest declares ${shard.bytes}`);
    }
    if (bytes.length > shard.bytes) {
      fail(`wrong length: ${bytes.length} bytes, the manifest declares ${shard.bytes}`);
    }
    const sha = await sha256Hex(bytes);
    if (sha !== shard.sha256) {
      fail(`sha256 mismatch (the shard is corrupted or was modified): expected ${shard.sha256}, got ${sha}`);
    }
    report(shard.bytes);
    done += shard.bytes;

    const decoded = decodeShard(bytes, path, lim);
    for (const [name, stored] of decoded) {
      const spec = specs.get(name);
      if (!spec) fail(`undeclared tensor ${quote(name)}: the manifest does not list it`);
      const prior = loaded.get(name);
      if (prior) fail(`duplicate tensor name ${quote(name)}: already loaded from ${prior.file}`);
      if (spec.shard !== shard.file) fail(`tensor ${quote(name)} is here but the manifest declares it in ${spec.shard}`);
      if (stored.dtype !== spec.dtype || !sameShape(stored.shape, spec.shape) || stored.axis !== spec.axis) {
        const got = `${stored.dtype} [${stored.shape.join(', ')}]${stored.axis === undefined ? '' : ` axis ${stored.axis}`}`;
        const want = `${spec.dtype} [${spec.shape.join(', ')}]${spec.axis === undefined ? '' : ` axis ${spec.axis}`}`;
        fail(`tensor ${quote(name)} is ${got} but the manifest declares ${want}`);
      }
      const data = dequantize(stored);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) fail(`tensor ${quote(name)} has a non-finite value (${data[i]}) at index ${i}`);
      }
      const int8 = stored.dtype === 'int8' ? { q: new Int8Array(stored.data.buffer, stored.data.byteOffset, stored.data.length), scale: bytesToFloat32(stored.scale!), axis: stored.axis! } : undefined;
      loaded.set(name, { tensor: { shape: [...stored.shape], data, ...(int8 ? { int8 } : {}) }, file: shard.file });
    }
    for (const spec of perShard.get(shard.file)!) {
      if (!decoded.has(spec.name)) fail(`tensor ${quote(spec.name)} is declared in this shard but absent`);
    }
  }

  const tensors = new Map<string, HostTensor>();
  for (const t of manifest.tensors) tensors.set(t.name, loaded.get(t.name)!.tensor);
  return { manifest, tensors };
}
