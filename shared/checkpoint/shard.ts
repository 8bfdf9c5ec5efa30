// One shard = one msgpack document: a map from tensor name to
// { dtype, shape, data, scale?, axis? } (DESIGN §4).
//
// msgpackr notes: typed arrays other than Uint8Array are packed as a msgpackr
// extension that other readers (and differently configured msgpackr
// instances) decode as garbage, so raw bytes always go in as plain Uint8Array
// (msgpack bin). Decoding uses mapsAsObjects: false so tensor names are Map
// keys and never touch an object prototype; decoded bins are views into the
// shard (Node Buffers, possibly unaligned), which callers copy before viewing
// them as wider types.
import { Packr, Unpackr } from 'msgpackr';
import { CheckpointError, describeError } from './errors.ts';
import { BYTES_PER_ELEMENT, DTYPES, checkShape, resolveLimits } from './types.ts';
import type { Dtype, Limits, StoredTensor } from './types.ts';

const packr = new Packr({ useRecords: false, variableMapSize: true });

function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b); // copies; Buffer#slice would return a view
}

/** msgpack map header for n entries. */
function mapHeader(n: number): Uint8Array {
  if (n < 16) return new Uint8Array([0x80 | n]);
  if (n < 0x10000) return new Uint8Array([0xde, n >>> 8, n & 0xff]);
  return new Uint8Array([0xdf, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/**
 * The msgpack bytes of one map entry (key then value). A shard is a map
 * header followed by its entries, so the writer can size shards exactly.
 */
export function encodeShardEntry(name: string, t: StoredTensor): Uint8Array {
  const value: Record<string, unknown> = {
    dtype: t.dtype,
    shape: [...t.shape],
    data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
  if (t.scale !== undefined) value.scale = new Uint8Array(t.scale.buffer, t.scale.byteOffset, t.scale.byteLength);
  if (t.axis !== undefined) value.axis = t.axis;
  const key = copyBytes(packr.pack(name));
  const val = packr.pack(value);
  const out = new Uint8Array(key.length + val.length);
  out.set(key, 0);
  out.set(val, key.length);
  return out;
}

/** A shard document from already encoded entries. */
export function assembleShard(entries: readonly Uint8Array[]): Uint8Array {
  const header = mapHeader(entries.length);
  let size = header.length;
  for (const e of entries) size += e.length;
  const out = new Uint8Array(size);
  out.set(header, 0);
  let offset = header.length;
  for (const e of entries) {
    out.set(e, offset);
    offset += e.length;
  }
  return out;
}

/** Size in bytes of the map header a shard of n entries carries. */
export function shardHeaderBytes(n: number): number {
  return mapHeader(n).length;
}

export function encodeShard(entries: Map<string, StoredTensor>): Uint8Array {
  return assembleShard([...entries].map(([name, t]) => encodeShardEntry(name, t)));
}

/** Entry count the top-level map header declares, or undefined if the document is not a map. */
function declaredMapSize(bytes: Uint8Array): number | undefined {
  const b0 = bytes[0];
  if (b0 >= 0x80 && b0 <= 0x8f) return b0 & 0x0f;
  if (b0 === 0xde && bytes.length >= 3) return (bytes[1] << 8) | bytes[2];
  if (b0 === 0xdf && bytes.length >= 5) return ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0;
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (v instanceof Map) return 'a map';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return typeof v;
}

function quoteName(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
}

const FIELDS = new Set(['dtype', 'shape', 'data', 'scale', 'axis']);

/**
 * Parses one shard. Hostile-input discipline: every malformed document throws
 * CheckpointError naming `file`; sizes are checked against `limits` before
 * anything proportional to them is allocated. Returned bytes are views into
 * `bytes` (copy before viewing as wider types).
 */
export function decodeShard(bytes: Uint8Array, file: string, limits: Partial<Limits> = {}): Map<string, StoredTensor> {
  const lim = resolveLimits(limits);
  function fail(reason: string): never {
    throw new CheckpointError(file, reason);
  }
  if (!(bytes instanceof Uint8Array)) fail('shard is not a byte array');
  if (bytes.length > lim.maxShardBytes) fail(`shard is ${bytes.length} bytes, over the limit of ${lim.maxShardBytes}`);
  if (bytes.length === 0) fail('shard is empty');
  const declared = declaredMapSize(bytes);
  if (declared === undefined) fail('shard is not a msgpack map of tensors');
  if (declared > lim.maxTensors) fail(`shard declares ${declared} tensors, over the limit of ${lim.maxTensors}`);

  let doc: unknown;
  try {
    // A fresh instance per shard: msgpackr keeps record definitions and
    // bundled strings per instance, and a hostile shard must not leak them.
    const unpackr = new Unpackr({ mapsAsObjects: false, useRecords: false, structuredClone: false, int64AsType: 'number' });
    doc = unpackr.unpack(bytes);
  } catch (e) {
    fail(`shard is not valid msgpack: ${describeError(e)}`);
  }
  if (!(doc instanceof Map)) fail(`shard is ${describe(doc)}, not a map of tensors`);
  // msgpack maps may repeat a key; decoding keeps the last, so compare counts.
  if (doc.size !== declared) fail(`duplicate tensor name: the shard declares ${declared} entries but holds ${doc.size} distinct names`);

  const out = new Map<string, StoredTensor>();
  for (const [name, value] of doc) {
    if (typeof name !== 'string') fail(`tensor name is ${describe(name)}, not a string`);
    const n: string = name;
    if (n.length === 0) fail('empty tensor name');
    if (n.length > lim.maxNameLength) fail(`tensor name ${quoteName(n)} is longer than ${lim.maxNameLength} characters`);
    const where = `tensor ${quoteName(n)}`;
    if (!(value instanceof Map)) fail(`${where} is ${describe(value)}, not a map`);
    const v: Map<unknown, unknown> = value;
    for (const k of v.keys()) {
      if (typeof k !== 'string') fail(`${where} has a field named ${describe(k)}`);
    }
    const get = (k: string): unknown => (FIELDS.has(k) ? v.get(k) : undefined);

    const dtype = get('dtype');
    if (typeof dtype !== 'string' || !DTYPES.includes(dtype as Dtype)) {
      fail(`${where} has unknown dtype ${describe(dtype)} (expected one of ${DTYPES.join(', ')})`);
    }
    const dt = dtype as Dtype; // checked against DTYPES above
    const shape = get('shape');
    const checked = checkShape(shape, lim);
    if ('error' in checked) fail(`${where}: ${checked.error}`);
    const shp = [...(shape as number[])];

    const data = get('data');
    if (!(data instanceof Uint8Array)) fail(`${where}: data is ${describe(data)}, not bytes`);
    const expected = checked.count * BYTES_PER_ELEMENT[dt];
    if (data.length !== expected) {
      fail(`${where}: data is ${data.length} bytes but shape [${shp.join(', ')}] of ${dt} needs ${expected}`);
    }

    const scale = get('scale');
    const axis = get('axis');
    const t: StoredTensor = { dtype: dt, shape: shp, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    if (dt === 'int8') {
      if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < 0 || axis >= shp.length) {
        fail(`${where}: int8 quantisation axis is ${describe(axis)}, not an integer in [0, ${shp.length})`);
      }
      const ax = axis as number; // checked above
      if (!(scale instanceof Uint8Array)) fail(`${where}: int8 scale is ${describe(scale)}, not bytes`);
      if (scale.length !== shp[ax] * 4) {
        fail(`${where}: scale is ${scale.length} bytes but axis ${ax} has ${shp[ax]} channels (needs ${shp[ax] * 4})`);
      }
      const sv = new DataView(scale.buffer, scale.byteOffset, scale.byteLength);
      for (let c = 0; c < shp[ax]; c++) {
        const s = sv.getFloat32(c * 4, true);
        if (!(Number.isFinite(s) && s > 0)) fail(`${where}: scale of channel ${c} is ${s}, not a finite positive number`);
      }
      t.scale = new Uint8Array(scale.buffer, scale.byteOffset, scale.byteLength);
      t.axis = ax;
    } else {
      if (scale !== undefined) fail(`${where}: only int8 tensors have a scale`);
      if (axis !== undefined) fail(`${where}: only int8 tensors have a quantisation axis`);
    }
    out.set(n, t);
  }
  return out;
}

/** Lowercase hex SHA-256 via WebCrypto (Node 20, browsers and Workers all have it). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const input = bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', input));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}
