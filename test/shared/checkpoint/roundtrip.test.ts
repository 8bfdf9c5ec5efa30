import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_VERSION,
  decodeShard,
  encodeCheckpoint,
  loadCheckpoint,
  memorySource,
  readManifest,
} from '../../../shared/checkpoint/index.ts';
import type { HostTensor, LoadProgress } from '../../../shared/checkpoint/index.ts';
import { bits, randomTensor, sampleCheckpoint, sampleMeta, sampleTensors } from './fixtures.ts';

describe('checkpoint round trip', () => {
  it('writes a manifest.json and one shard by default, and loads every tensor back bit-exactly (fp32)', async () => {
    const { manifest, files } = await sampleCheckpoint('fp32');
    expect([...files.keys()].sort()).toEqual(['manifest.json', 'weights-00000.msgpack']);
    expect(manifest.format).toBe('medsynth-checkpoint');
    expect(manifest.version).toBe(CHECKPOINT_VERSION);
    expect(manifest.quantization).toBe('fp32');
    expect(manifest.shards[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const text = new TextDecoder().decode(files.get('manifest.json'));
    expect(text.startsWith('{\n  "format": "medsynth-checkpoint",\n  "version": "1.1",')).toBe(true);

    const loaded = await loadCheckpoint(memorySource(files));
    expect(loaded.manifest).toEqual(manifest);
    const original = sampleTensors();
    expect([...loaded.tensors.keys()]).toEqual(manifest.tensors.map((t) => t.name));
    expect(new Set(loaded.tensors.keys())).toEqual(new Set(original.keys()));
    for (const [name, t] of original) {
      const got = loaded.tensors.get(name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(bits(got.data)).toEqual(bits(t.data));
    }
    expect(await readManifest(memorySource(files))).toEqual(manifest);
  });

  it('orders tensors by name and keeps metadata', async () => {
    const { manifest } = await sampleCheckpoint('fp16');
    const names = manifest.tensors.map((t) => t.name);
    expect(names).toEqual([...names].sort());
    expect(manifest.labels).toEqual(['normal', 'pneumonia']);
    expect(manifest.data.intensity).toEqual({ kind: 'linear', low: 0, high: 255, unit: '' });
    expect(manifest.training).toEqual({ steps: 10 });
    expect(manifest.tensors.every((t) => t.dtype === 'float16')).toBe(true);
  });

  it('splits into several shards when shardBytes is small, each within the budget unless it holds one tensor', async () => {
    const tensors = new Map<string, HostTensor>();
    for (let i = 0; i < 12; i++) tensors.set(`layer.${String(i).padStart(2, '0')}.w`, randomTensor([10 + i * 7, 9], 100 + i));
    tensors.set('huge', randomTensor([64, 64], 999)); // 16 KiB: bigger than a shard
    const shardBytes = 2048;
    const { manifest, files } = await encodeCheckpoint(tensors, sampleMeta(), { quantization: 'fp32', shardBytes });
    expect(manifest.shards.length).toBeGreaterThan(4);
    manifest.shards.forEach((s, i) => expect(s.file).toBe(`weights-${String(i).padStart(5, '0')}.msgpack`));
    for (const s of manifest.shards) {
      expect(files.get(s.file)!.length).toBe(s.bytes);
      const held = decodeShard(files.get(s.file)!, s.file);
      if (held.size > 1) expect(s.bytes).toBeLessThanOrEqual(shardBytes);
    }
    const huge = manifest.tensors.find((t) => t.name === 'huge')!;
    expect(manifest.tensors.filter((t) => t.shard === huge.shard)).toHaveLength(1);

    const loaded = await loadCheckpoint(memorySource(files));
    for (const [name, t] of tensors) expect(bits(loaded.tensors.get(name)!.data)).toEqual(bits(t.data));
  });

  it('is deterministic: the same input gives the same bytes, in any insertion order', async () => {
    const a = await encodeCheckpoint(sampleTensors(), sampleMeta(), { quantization: 'int8', shardBytes: 600 });
    const reversed = new Map([...sampleTensors()].reverse());
    const b = await encodeCheckpoint(reversed, sampleMeta(), { quantization: 'int8', shardBytes: 600 });
    expect(a.files.size).toBeGreaterThan(2);
    expect([...b.files.keys()]).toEqual([...a.files.keys()]);
    for (const [file, bytes] of a.files) expect(Buffer.from(b.files.get(file)!).equals(Buffer.from(bytes))).toBe(true);
  });

  it('loads a tensor named __proto__ as an ordinary Map entry without touching Object.prototype', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const protoTensor = { shape: [2], data: new Float32Array([7, 8]) };
    const tensors = new Map<string, HostTensor>([
      ['__proto__', protoTensor],
      ['constructor', { shape: [1], data: new Float32Array([1]) }],
      ['polluted', { shape: [1], data: new Float32Array([2]) }],
    ]);
    const { files } = await encodeCheckpoint(tensors, sampleMeta(), { quantization: 'fp32' });
    const loaded = await loadCheckpoint(memorySource(files));
    expect(loaded.tensors.get('__proto__')!.data).toEqual(new Float32Array([7, 8]));
    expect(loaded.tensors.get('constructor')!.shape).toEqual([1]);
    expect(loaded.tensors.size).toBe(3);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('reports progress per file and overall, ending at the total', async () => {
    const { manifest, files } = await sampleCheckpoint('fp32', 1024);
    const events: LoadProgress[] = [];
    await loadCheckpoint(memorySource(files), { onProgress: (p) => events.push(p) });
    const total = manifest.shards.reduce((a, s) => a + s.bytes, 0);
    expect(events.length).toBeGreaterThanOrEqual(manifest.shards.length);
    for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThan(events[i - 1].loaded);
    for (const e of events) {
      expect(e.total).toBe(total);
      expect(e.fileLoaded).toBeLessThanOrEqual(e.fileTotal);
      expect(e.fileTotal).toBe(manifest.shards.find((s) => s.file === e.file)!.bytes);
    }
    expect(events.at(-1)!.loaded).toBe(total);
  });

  it('lets an error thrown by the progress callback through unchanged', async () => {
    const { files } = await sampleCheckpoint('fp32');
    const boom = new Error('stop');
    await expect(loadCheckpoint(memorySource(files), { onProgress: () => { throw boom; } })).rejects.toBe(boom);
  });
});
