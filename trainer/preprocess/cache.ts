// Disk cache of prepared (decoded and preprocessed) training data, so a
// repeated run neither decodes nor preprocesses again.
//
// Key: sha256 of (CACHE_VERSION, each input's absolute path + size + mtime,
// the pipeline config as canonical JSON). A folder input (a DICOM series)
// contributes each of its entries' name, size and mtime. Bump CACHE_VERSION
// whenever preprocessing changes what it produces.
//
// Entry: one file `<key>.bin` under the cache dir (default `.cache/medsynth`
// in the project root, ignored by git; MEDSYNTH_CACHE_DIR overrides):
//   "MSPREP01" | u32 version | u32 n = header bytes | header JSON (n bytes)
//   | zero padding to a multiple of 4 | float32 LE examples, concatenated
//   | sha256 of everything before it (32 bytes)
// The header holds everything but the examples (count, values per example,
// mapping, shape, spacing, sources, report). Reads check the magic, version,
// the exact file length the header implies, and the hash: a truncated or
// corrupt entry is deleted and rebuilt, never used. Writes go to a temp file
// in the same folder and are renamed into place (atomic on POSIX), so a
// crash or a failed build leaves no partial entry.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join, resolve } from 'node:path';
import type { Prepared } from './prepared.ts';
import { packagePath } from '../../sampler/node/package-files.ts';

/** Bump when preprocessing changes its output for the same inputs and config. */
export const CACHE_VERSION = 1;

const MAGIC = Buffer.from('MSPREP01', 'ascii');
const FIXED = MAGIC.length + 8; // magic + version + header length
const HASH_BYTES = 32;
const MAX_HEADER_BYTES = 64 << 20;
/** readFile's limit; bigger preparations are built every time (and said so). */
const MAX_ENTRY_BYTES = 2 ** 31 - 1;

export type CacheStatus = 'hit' | 'miss' | 'corrupt' | 'too-large' | 'unwritable';

export interface CacheOptions {
  /** Cache folder; default defaultCacheDir(). */
  cacheDir?: string;
  /**
   * Told what happened: a hit, a miss (built and stored), a corrupt entry
   * (rebuilt), an entry too large to store, or a store that failed (the
   * prepared data is still returned).
   */
  onStatus?: (status: CacheStatus, file: string, detail?: string) => void;
}

/** `$MEDSYNTH_CACHE_DIR`, else `.cache/medsynth` in the project root. */
export function defaultCacheDir(): string {
  return process.env.MEDSYNTH_CACHE_DIR || packagePath('.cache', 'medsynth');
}

/** JSON with object keys sorted, so equal configs give equal keys whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

/** The cache key (64 hex digits) for `inputs` as they are on disk now and `config`. */
export async function cacheKey(inputs: readonly string[], config: unknown): Promise<string> {
  const files: unknown[] = [];
  for (const input of inputs) {
    const path = resolve(input);
    const s = await stat(path);
    const entry: unknown[] = [path, s.size, s.mtimeMs];
    if (s.isDirectory()) {
      for (const name of (await readdir(path)).sort()) {
        const e = await stat(join(path, name));
        entry.push([name, e.size, e.mtimeMs]);
      }
    }
    files.push(entry);
  }
  return createHash('sha256').update(canonicalJson({ version: CACHE_VERSION, files, config })).digest('hex');
}

function entryFile(dir: string, key: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(key)) throw new Error(`cache: bad key "${key}" (letters, digits, _ and - only)`);
  return join(dir, `${key}.bin`);
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('cache: entries are little-endian float32; this machine is big-endian');
}

/** A cache entry that cannot be used; `cached` deletes and rebuilds it. */
export class CorruptEntryError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: corrupt cache entry (${reason})`);
    this.name = 'CorruptEntryError';
  }
}

interface Header extends Omit<Prepared, 'examples'> {
  count: number;
  length: number;
}

const align4 = (n: number) => (n + 3) & ~3;

/** Reads and verifies an entry; throws CorruptEntryError on any mismatch. */
export async function readEntry(file: string): Promise<Prepared> {
  assertLittleEndian();
  const buf = await readFile(file);
  const bad = (reason: string) => new CorruptEntryError(file, reason);
  if (buf.length < FIXED + HASH_BYTES) throw bad(`${buf.length} bytes is shorter than any entry`);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('bad magic');
  const version = buf.readUInt32LE(MAGIC.length);
  if (version !== CACHE_VERSION) throw bad(`version ${version}, expected ${CACHE_VERSION}`);
  const headerBytes = buf.readUInt32LE(MAGIC.length + 4);
  if (headerBytes > MAX_HEADER_BYTES || FIXED + headerBytes > buf.length) throw bad(`header length ${headerBytes} past the end`);
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(FIXED, FIXED + headerBytes).toString('utf8')) as Header;
  } catch (e) {
    throw bad(`header is not JSON: ${(e as Error).message}`);
  }
  const { count, length } = header;
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(length) || count < 0 || length < 0) throw bad('bad example count or length');
  const dataAt = align4(FIXED + headerBytes);
  const expected = dataAt + count * length * 4 + HASH_BYTES;
  if (buf.length !== expected) throw bad(`${buf.length} bytes, the header implies ${expected} (truncated?)`);
  const body = buf.subarray(0, buf.length - HASH_BYTES);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - HASH_BYTES))) throw bad('sha256 mismatch');
  // One aligned copy of the values; examples are views of it.
  const values = new Float32Array(buf.buffer.slice(buf.byteOffset + dataAt, buf.byteOffset + dataAt + count * length * 4));
  const examples = Array.from({ length: count }, (_, i) => values.subarray(i * length, (i + 1) * length));
  const { count: _c, length: _l, ...rest } = header;
  return { ...rest, examples };
}

/** Writes an entry atomically: a temp file in the same folder, fsynced, then renamed over `file`. */
export async function writeEntry(file: string, prepared: Prepared): Promise<void> {
  assertLittleEndian();
  const { examples, ...rest } = prepared;
  const length = examples.length ? examples[0].length : 0;
  for (const e of examples) if (e.length !== length) throw new Error(`cache: examples differ in length (${e.length} vs ${length})`);
  const header: Header = { ...rest, count: examples.length, length };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const fixed = Buffer.alloc(FIXED);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(CACHE_VERSION, MAGIC.length);
  fixed.writeUInt32LE(json.length, MAGIC.length + 4);
  const pad = Buffer.alloc(align4(FIXED + json.length) - FIXED - json.length);

  const dir = resolve(file, '..');
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  const hash = createHash('sha256');
  let done = false;
  try {
    const put = async (b: Uint8Array) => {
      hash.update(b);
      await fh.write(b);
    };
    await put(fixed);
    await put(json);
    await put(pad);
    for (const e of examples) await put(new Uint8Array(e.buffer, e.byteOffset, e.byteLength));
    await fh.write(hash.digest());
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
    done = true;
  } finally {
    if (!done) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
}

/**
 * The prepared data for `key`: read from the cache when a valid entry exists
 * (`build` is not called), else built, stored and returned. A corrupt or
 * truncated entry is reported, deleted and rebuilt. If `build` throws,
 * nothing is written.
 */
export async function cached(key: string, build: () => Promise<Prepared>, opts: CacheOptions = {}): Promise<Prepared> {
  const file = entryFile(opts.cacheDir ?? defaultCacheDir(), key);
  let status: CacheStatus = 'miss';
  let detail: string | undefined;
  try {
    const hit = await readEntry(file);
    opts.onStatus?.('hit', file);
    return hit;
  } catch (e) {
    if (e instanceof CorruptEntryError) {
      status = 'corrupt';
      detail = e.message;
      await unlink(file).catch(() => {});
    } else if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      detail = `cannot read the entry (${(e as Error).message}); building`; // an unreadable cache is a miss, not a failure
    }
  }
  const prepared = await build();
  let bytes = FIXED + HASH_BYTES + 4;
  for (const ex of prepared.examples) bytes += ex.byteLength;
  if (bytes > MAX_ENTRY_BYTES) {
    opts.onStatus?.('too-large', file, `${bytes} bytes is more than a cache entry holds; not stored`);
    return prepared;
  }
  try {
    await writeEntry(file, prepared);
  } catch (e) {
    // A cache that cannot be written (read-only or full disk) must not fail the run.
    opts.onStatus?.('unwritable', file, (e as Error).message);
    return prepared;
  }
  opts.onStatus?.(status, file, detail);
  return prepared;
}
