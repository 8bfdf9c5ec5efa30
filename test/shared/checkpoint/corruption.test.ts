// Every way a checkpoint can be broken gives a CheckpointError naming the file and the reason.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  decodeShard,
  encodeShard,
  float32ToBytes,
  loadCheckpoint,
  memorySource,
  parseManifest,
} from '../../../shared/checkpoint/index.ts';
import type { CheckpointSource, Limits, StoredTensor } from '../../../shared/checkpoint/index.ts';
import { assembleShard, encodeShardEntry } from '../../../shared/checkpoint/shard.ts';
import { manifestOf, sampleCheckpoint, withManifest, withShard } from './fixtures.ts';

const SHARD0 = 'weights-00000.msgpack';
const SHARD1 = 'weights-00001.msgpack';

/** A two-shard fp32 checkpoint; SHARD1 holds at least two tensors. */
async function twoShards() {
  const { files, manifest } = await sampleCheckpoint('fp32', 700);
  expect(manifest.shards.length).toBeGreaterThanOrEqual(2);
  return { files, manifest };
}

async function expectLoadError(files: Map<string, Uint8Array>, file: RegExp, reason: RegExp, limits?: Partial<Limits>) {
  const err = await loadCheckpoint(memorySource(files), { limits }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  const ce = err as CheckpointError;
  expect(ce.file).toMatch(file);
  expect(ce.reason).toMatch(reason);
  expect(ce.message).toBe(`${ce.file}: ${ce.reason}`);
  return ce;
}

const f32 = (...v: number[]) => float32ToBytes(new Float32Array(v));

describe('corrupted shards', () => {
  it('truncated shard', async () => {
    const { files } = await twoShards();
    files.set(SHARD1, files.get(SHARD1)!.slice(0, -10));
    await expectLoadError(files, /^memory\/weights-00001\.msgpack$/, /truncated shard: \d+ bytes, the manifest declares \d+/);
  });

  it('flipped byte', async () => {
    const { files } = await twoShards();
    const b = files.get(SHARD0)!.slice();
    b[b.length - 3] ^= 0x10;
    files.set(SHARD0, b);
    await expectLoadError(files, /^memory\/weights-00000\.msgpack$/, /sha256 mismatch/);
  });

  it('wrong length (extra bytes)', async () => {
    const { files } = await twoShards();
    const b = files.get(SHARD1)!;
    const longer = new Uint8Array(b.length + 5);
    longer.set(b);
    files.set(SHARD1, longer);
    await expectLoadError(files, /^memory\/weights-00001\.msgpack$/, /more than the expected \d+|wrong length/);
  });

  it('wrong length, from a source that ignores maxBytes', async () => {
    const { files } = await twoShards();
    const b = files.get(SHARD1)!;
    const longer = new Uint8Array(b.length + 5);
    longer.set(b);
    files.set(SHARD1, longer);
    const careless: CheckpointSource = { location: 'lax', read: async (f) => files.get(f)! };
    await expect(loadCheckpoint(careless)).rejects.toThrow(/^lax\/weights-00001\.msgpack: wrong length: \d+ bytes, the manifest declares \d+$/);
  });

  it('missing shard', async () => {
    const { files } = await twoShards();
    files.delete(SHARD1);
    const e = await expectLoadError(files, /^memory\/weights-00001\.msgpack$/, /missing shard weights-00001\.msgpack \(file not found\)/);
    expect(e.missing).toBe(true);
  });

  it('missing shard, from a source that throws a plain error', async () => {
    const { files } = await twoShards();
    const flaky: CheckpointSource = {
      location: 'https://example.test/m',
      read: async (f) => {
        if (f === SHARD1) throw new TypeError('network down');
        return files.get(f)!;
      },
    };
    await expect(loadCheckpoint(flaky)).rejects.toThrow(
      /^https:\/\/example\.test\/m\/weights-00001\.msgpack: missing shard weights-00001\.msgpack \(network down\)$/,
    );
  });

  it('duplicate name within a shard', async () => {
    const { files } = await twoShards();
    const t: StoredTensor = { dtype: 'float32', shape: [2], data: f32(1, 2) };
    const entry = encodeShardEntry('dup', t);
    const m = manifestOf(files);
    m.tensors.push({ name: 'dup', shape: [2], dtype: 'float32', shard: SHARD0 });
    const shard0 = assembleShard([entry, entry]);
    await expectLoadError(await withShard(withManifest(files, m), SHARD0, shard0), /weights-00000/, /duplicate tensor name/);
  });

  it('duplicate name across shards', async () => {
    const { files, manifest } = await twoShards();
    const inFirst = manifest.tensors.find((t) => t.shard === SHARD0)!;
    const shard1 = new Map(decodeShard(files.get(SHARD1)!, SHARD1));
    shard1.set(inFirst.name, decodeShard(files.get(SHARD0)!, SHARD0).get(inFirst.name)!);
    await expectLoadError(
      await withShard(files, SHARD1, encodeShard(shard1)),
      /^memory\/weights-00001\.msgpack$/,
      new RegExp(`duplicate tensor name "${inFirst.name.replace(/\./g, '\\.')}": already loaded from weights-00000`),
    );
  });

  it('unknown dtype', async () => {
    const { files, manifest } = await twoShards();
    const shard1 = new Map(decodeShard(files.get(SHARD1)!, SHARD1));
    const name = manifest.tensors.find((t) => t.shard === SHARD1)!.name;
    shard1.set(name, { ...shard1.get(name)!, dtype: 'bfloat16' as 'float32' });
    await expectLoadError(await withShard(files, SHARD1, encodeShard(shard1)), /weights-00001/, /unknown dtype "bfloat16"/);
  });

  it('data length that does not match the shape', async () => {
    const { files, manifest } = await twoShards();
    const shard1 = new Map(decodeShard(files.get(SHARD1)!, SHARD1));
    const name = manifest.tensors.find((t) => t.shard === SHARD1)!.name;
    const t = shard1.get(name)!;
    shard1.set(name, { ...t, data: t.data.subarray(4) });
    await expectLoadError(await withShard(files, SHARD1, encodeShard(shard1)), /weights-00001/, /data is \d+ bytes but shape \[.*\] of float32 needs \d+/);
  });

  it('a shard holding a tensor the manifest does not declare', async () => {
    const { files } = await twoShards();
    const shard1 = new Map(decodeShard(files.get(SHARD1)!, SHARD1));
    shard1.set('stowaway', { dtype: 'float32', shape: [1], data: f32(1) });
    await expectLoadError(await withShard(files, SHARD1, encodeShard(shard1)), /weights-00001/, /undeclared tensor "stowaway"/);
  });

  it('a tensor declared but absent from its shard', async () => {
    const { files, manifest } = await twoShards();
    const counts = manifest.shards.map((s) => manifest.tensors.filter((t) => t.shard === s.file).length);
    const file = manifest.shards[counts.findIndex((c) => c > 1)].file;
    const shard = new Map(decodeShard(files.get(file)!, file));
    // The smallest one, so the shard still has room for what the manifest declares.
    const [name] = [...shard].sort((a, b) => a[1].data.length - b[1].data.length)[0];
    shard.delete(name);
    await expectLoadError(
      await withShard(files, file, encodeShard(shard)),
      new RegExp(`^memory/${file.replace('.', '\\.')}$`),
      new RegExp(`tensor "${name.replace(/\./g, '\\.')}" is declared in this shard but absent`),
    );
  });

  it('a tensor whose shape differs from the manifest', async () => {
    const { files } = await twoShards();
    const m = manifestOf(files);
    const t = m.tensors.find((x) => x.shard === SHARD1)!;
    t.shape = [1, ...t.shape];
    await expectLoadError(withManifest(files, m), /weights-00001/, /is float32 \[.*\] but the manifest declares float32 \[.*\]/);
  });

  it('a non-finite value (NaN weights)', async () => {
    const { files } = await twoShards();
    const m = manifestOf(files);
    m.tensors.push({ name: 'nan', shape: [2], dtype: 'float32', shard: SHARD1 });
    const shard1 = new Map(decodeShard(files.get(SHARD1)!, SHARD1));
    shard1.set('nan', { dtype: 'float32', shape: [2], data: f32(1, NaN) });
    await expectLoadError(await withShard(withManifest(files, m), SHARD1, encodeShard(shard1)), /weights-00001/, /"nan" has a non-finite value \(NaN\) at index 1/);
  });

  it('an int8 scale with the wrong number of channels', async () => {
    const { files } = await sampleCheckpoint('int8', 700);
    const m = manifestOf(files);
    const spec = m.tensors.find((t) => t.dtype === 'int8')!;
    const shard = new Map(decodeShard(files.get(spec.shard)!, spec.shard));
    const t = shard.get(spec.name)!;
    shard.set(spec.name, { ...t, scale: t.scale!.subarray(4) });
    await expectLoadError(await withShard(files, spec.shard, encodeShard(shard)), new RegExp(spec.shard), /scale is \d+ bytes but axis \d has \d+ channels/);
  });

  it('absurd dimensions in a shard are rejected before any allocation', async () => {
    const { files } = await twoShards();
    const shard1 = new Map(decodeShard(files.get(SHARD1)!, SHARD1));
    shard1.set('absurd', { dtype: 'float32', shape: [1e9, 1e9], data: f32(1) });
    await expectLoadError(await withShard(files, SHARD1, encodeShard(shard1)), /weights-00001/, /tensor "absurd": shape \[1000000000, 1000000000\] has more than 268435456 elements/);
  });
});

describe('corrupted manifests', () => {
  async function withEdit(edit: (m: Record<string, any>) => void) {
    const { files } = await twoShards();
    const m = manifestOf(files) as unknown as Record<string, any>;
    edit(m);
    return withManifest(files, m);
  }
  const MANIFEST = /^memory\/manifest\.json$/;

  it('duplicate tensor name', async () => {
    const files = await withEdit((m) => m.tensors.push({ ...m.tensors[0] }));
    await expectLoadError(files, MANIFEST, /tensors\[\d+\]\.name: duplicate tensor name/);
  });

  it('an image size that sampling would allocate without end ([30000, 30000], absurd channels)', async () => {
    let files = await withEdit((m) => (m.data.shape = [30000, 30000]));
    await expectLoadError(files, MANIFEST, /data\.shape\[0\]: .*4096/);
    files = await withEdit((m) => (m.data.shape = [4096, 4096, 16]));
    await expectLoadError(files, MANIFEST, /data\.shape: \[4096,4096,16\] x 1 channels is \d+ values per image, over the limit of 134217728 \(MAX_DATA_VALUES\)/);
    files = await withEdit((m) => (m.data.channels = 100000));
    await expectLoadError(files, MANIFEST, /data\.channels: .*64/);
  });

  it('a shard listed twice', async () => {
    const files = await withEdit((m) => m.shards.push({ ...m.shards[0] }));
    await expectLoadError(files, MANIFEST, /shards\[\d+\]\.file: shard weights-00000\.msgpack is listed twice/);
  });

  it('per-class data that does not match the labels or the data shape', async () => {
    const entry = (m: Record<string, any>) => ({ modality: 'ct', spacing: m.data.spacing, intensity: { kind: 'hu-window', level: 40, width: 400 } });
    let files = await withEdit((m) => {
      m.labels = ['a', 'b'];
      m.data.perLabel = [entry(m)];
    });
    await expectLoadError(files, MANIFEST, /data\.perLabel: has 1 entries but labels has 2/);
    files = await withEdit((m) => {
      m.labels = ['ct'];
      m.data.perLabel = [{ ...entry(m), spacing: [1] }];
    });
    await expectLoadError(files, MANIFEST, /data\.perLabel\[0\]\.spacing: has 1 entries but data\.shape has/);
  });

  it('a tensor in a shard that is not listed', async () => {
    const files = await withEdit((m) => (m.tensors[0].shard = 'weights-00042.msgpack'));
    await expectLoadError(files, MANIFEST, /tensors\[0\]\.shard: shard weights-00042\.msgpack is not listed/);
  });

  it('absurd declared dimensions, rejected before any shard is read', async () => {
    const files = await withEdit((m) => (m.tensors[0].shape = [1e9, 1e9]));
    const reads: string[] = [];
    const src = memorySource(files);
    const spy: CheckpointSource = { location: src.location, read: (f, on, max) => (reads.push(f), src.read(f, on, max)) };
    await expect(loadCheckpoint(spy)).rejects.toThrow(/^memory\/manifest\.json: tensor ".*": shape \[1000000000, 1000000000\] has more than 268435456 elements$/);
    expect(reads).toEqual(['manifest.json']);
  });

  it('a declared shard size over the cap, rejected before reading it', async () => {
    const files = await withEdit(() => {});
    const reads: string[] = [];
    const src = memorySource(files);
    const spy: CheckpointSource = { location: src.location, read: (f, on, max) => (reads.push(f), src.read(f, on, max)) };
    await expect(loadCheckpoint(spy, { limits: { maxShardBytes: 100 } })).rejects.toThrow(
      /^memory\/weights-0000\d\.msgpack: the manifest declares \d+ bytes, over the shard limit of 100$/,
    );
    expect(reads).toEqual(['manifest.json']);
  });

  it('declared shard sizes too small for the declared tensors', async () => {
    const files = await withEdit((m) => (m.tensors[0].shape = [...m.tensors[0].shape, 1000]));
    await expectLoadError(files, MANIFEST, /shard weights-0000\d\.msgpack declares \d+ bytes but its tensors need at least \d+/);
  });

  it('more tensors than the limit, and an over-long tensor name', async () => {
    const { files } = await twoShards();
    await expectLoadError(files, MANIFEST, /manifest declares 6 tensors, over the limit of 3/, { maxTensors: 3 });
    const long = await withEdit((m) => (m.tensors[0].name = 'n'.repeat(513)));
    await expectLoadError(long, MANIFEST, /tensor name "n+\.\.\." is longer than 512 characters/);
  });

  it('a manifest nested thousands deep is refused by its depth, not by a stack overflow', async () => {
    const { files } = await twoShards();
    const m = manifestOf(files) as unknown as Record<string, any>;
    m.training = { extra: '@' };
    // Written as text: JSON.stringify itself overflows at this depth.
    const text = JSON.stringify(m).replace('"@"', '['.repeat(5000) + ']'.repeat(5000));
    const deep = new Map(files).set('manifest.json', new TextEncoder().encode(text));
    await expectLoadError(deep, MANIFEST, /nested more than 32 levels deep \(MAX_MANIFEST_DEPTH\)/);
    // A real manifest is far inside the limit.
    m.training = { extra: JSON.parse('['.repeat(20) + ']'.repeat(20)) };
    await expect(loadCheckpoint(memorySource(withManifest(files, m)))).resolves.toBeDefined();
  });

  it('a manifest over the size cap', async () => {
    const { files } = await twoShards();
    await expectLoadError(files, MANIFEST, /more than the expected 64/, { maxManifestBytes: 64 });
  });

  it('a missing manifest', async () => {
    const { files } = await twoShards();
    files.delete('manifest.json');
    await expectLoadError(files, MANIFEST, /missing manifest\.json \(file not found\)/);
  });

  it('path traversal in a shard name', async () => {
    const files = await withEdit((m) => (m.shards[0].file = '../../etc/passwd'));
    await expectLoadError(files, MANIFEST, /shards\[0\]\.file: must be a file name like weights-00000\.msgpack/);
  });

  it('an unsupported major version', async () => {
    const files = await withEdit((m) => (m.version = '2.0'));
    await expectLoadError(files, MANIFEST, /^unsupported checkpoint version 2\.0 \(this reader supports 1\.x\)$/);
  });

  it('accepts a newer minor version with extra fields', async () => {
    const files = await withEdit((m) => {
      m.version = '1.7';
      m.futureField = { anything: true };
    });
    const { manifest } = await loadCheckpoint(memorySource(files));
    expect(manifest.version).toBe('1.7');
  });

  it('a foreign format', async () => {
    const files = await withEdit((m) => (m.format = 'tfjs-layers'));
    await expectLoadError(files, MANIFEST, /format: expected "medsynth-checkpoint", got "tfjs-layers"/);
    const huge = await withEdit((m) => (m.format = { nested: 'x'.repeat(10_000) }));
    const e = await expectLoadError(huge, MANIFEST, /format: expected "medsynth-checkpoint", got \{"nested":"x+\.\.\.$/);
    expect(e.message.length).toBeLessThan(200);
  });

  it('a wrong sha256 format and a negative dimension name the field path', async () => {
    const files = await withEdit((m) => {
      m.shards[1].sha256 = 'ABC';
      m.tensors[2].shape[0] = -1;
    });
    const e = await expectLoadError(files, MANIFEST, /invalid manifest at /);
    expect(e.reason).toMatch(/shards\[1\]\.sha256: must be 64 lowercase hex digits/);
    expect(e.reason).toMatch(/tensors\[2\]\.shape\[0\]/);
  });

  it('an int8 tensor without an axis', async () => {
    const { files } = await sampleCheckpoint('int8');
    const m = manifestOf(files);
    const t = m.tensors.find((x) => x.dtype === 'int8')!;
    delete t.axis;
    await expectLoadError(withManifest(files, m), MANIFEST, /axis: int8 tensors need a quantisation axis/);
  });

  it('a dtype the quantisation mode does not allow', async () => {
    const files = await withEdit((m) => (m.tensors[0].dtype = 'int8'));
    await expectLoadError(files, MANIFEST, /tensors\[0\]\.dtype: dtype int8 is not allowed in a fp32 checkpoint/);
  });

  it('not JSON, not UTF-8, not an object', async () => {
    const { files } = await twoShards();
    files.set('manifest.json', new TextEncoder().encode('{"format": "medsynth-checkpoint",'));
    await expectLoadError(files, MANIFEST, /invalid manifest: not valid JSON/);
    files.set('manifest.json', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    await expectLoadError(files, MANIFEST, /not valid UTF-8/);
    files.set('manifest.json', new TextEncoder().encode('[1, 2]'));
    await expectLoadError(files, MANIFEST, /not a JSON object/);
  });

  it('parseManifest names the file it was given', () => {
    expect(() => parseManifest('{}', 'models/x/manifest.json')).toThrow(/^models\/x\/manifest\.json: invalid manifest at format/);
  });
});

describe('decodeShard on malformed documents', () => {
  const packr = new Packr({ useRecords: false });
  const cases: [string, unknown, RegExp][] = [
    ['an array', [1, 2, 3], /not a msgpack map of tensors/],
    ['a string', 'hello', /not a msgpack map of tensors/],
    ['a non-string name', new Map([[42, new Map()]]), /tensor name is 42, not a string/],
    ['an empty name', new Map([['', new Map()]]), /empty tensor name/],
    ['a 513-character name', new Map([['x'.repeat(513), new Map()]]), /longer than 512 characters/],
    ['an entry that is not a map', new Map([['w', 3]]), /tensor "w" is 3, not a map/],
    ['data that is a string', new Map([['w', { dtype: 'float32', shape: [1], data: 'abcd' }]]), /data is "abcd", not bytes/],
    ['a shape that is not an array', new Map([['w', { dtype: 'float32', shape: 4, data: new Uint8Array(4) }]]), /shape is not an array/],
    ['rank 7', new Map([['w', { dtype: 'float32', shape: [1, 1, 1, 1, 1, 1, 1], data: new Uint8Array(4) }]]), /rank 7 exceeds the limit of 6/],
    ['a zero dimension', new Map([['w', { dtype: 'float32', shape: [2, 0], data: new Uint8Array(0) }]]), /dimension 1 of the shape is 0/],
    ['a fractional dimension', new Map([['w', { dtype: 'float32', shape: [1.5], data: new Uint8Array(4) }]]), /dimension 0 of the shape is 1\.5/],
    ['a negative dimension', new Map([['w', { dtype: 'float16', shape: [-2], data: new Uint8Array(4) }]]), /dimension 0 of the shape is -2/],
    ['a scale on a float tensor', new Map([['w', { dtype: 'float32', shape: [1], data: new Uint8Array(4), scale: new Uint8Array(4) }]]), /only int8 tensors have a scale/],
    ['an int8 tensor without axis', new Map([['w', { dtype: 'int8', shape: [2, 2], data: new Uint8Array(4), scale: f32(1, 1) }]]), /int8 quantisation axis is nothing/],
    ['an int8 axis out of range', new Map([['w', { dtype: 'int8', shape: [2, 2], data: new Uint8Array(4), scale: f32(1, 1), axis: 2 }]]), /axis is 2, not an integer in \[0, 2\)/],
    ['a NaN scale', new Map([['w', { dtype: 'int8', shape: [2, 2], data: new Uint8Array(4), scale: f32(1, NaN), axis: 1 }]]), /scale of channel 1 is NaN/],
  ];
  it.each(cases)('rejects %s', (_, doc, reason) => {
    const bytes = new Uint8Array(packr.pack(doc));
    expect(() => decodeShard(bytes, 'x/weights-00003.msgpack')).toThrow(CheckpointError);
    expect(() => decodeShard(bytes, 'x/weights-00003.msgpack')).toThrow(new RegExp(`^x/weights-00003\\.msgpack: .*${reason.source}`));
  });

  it('rejects trailing bytes, truncation, an empty buffer and more tensors than the limit', () => {
    const ok = encodeShard(new Map([['w', { dtype: 'float32', shape: [1], data: f32(1) }]]));
    const trailing = new Uint8Array(ok.length + 1);
    trailing.set(ok);
    expect(() => decodeShard(trailing, 'f')).toThrow(/^f: shard is not valid msgpack/);
    expect(() => decodeShard(ok.subarray(0, ok.length - 1), 'f')).toThrow(/^f: shard is not valid msgpack/);
    expect(() => decodeShard(new Uint8Array(0), 'f')).toThrow(/^f: shard is empty/);
    const many = encodeShard(new Map(Array.from({ length: 5 }, (_, i) => [`t${i}`, { dtype: 'int8' as const, shape: [1], data: new Uint8Array(1), scale: f32(1), axis: 0 }])));
    expect(decodeShard(many, 'f').size).toBe(5);
    expect(() => decodeShard(many, 'f', { maxTensors: 4 })).toThrow(/^f: shard declares 5 tensors, over the limit of 4/);
    expect(() => decodeShard(many, 'f', { maxShardBytes: 10 })).toThrow(/^f: shard is \d+ bytes, over the limit of 10/);
    // A map32 header claiming 2^32 - 1 entries in a 5-byte document.
    expect(() => decodeShard(new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff]), 'f')).toThrow(CheckpointError);
  });

  it('returns copies-on-demand views: unaligned data still dequantises correctly', async () => {
    // A 1-character name puts the float32 payload at an odd offset in the document.
    const doc = encodeShard(new Map([['w', { dtype: 'float32', shape: [3], data: f32(1.5, -2, 3.25) }]]));
    const t = decodeShard(doc, 'f').get('w')!;
    const { bytesToFloat32 } = await import('../../../shared/checkpoint/index.ts');
    expect(Array.from(bytesToFloat32(t.data))).toEqual([1.5, -2, 3.25]);
  });
});
