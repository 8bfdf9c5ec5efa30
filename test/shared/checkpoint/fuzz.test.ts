// Property tests: the shard decoder and the manifest parser are hostile-input
// parsers; whatever they are fed, they return or throw CheckpointError, fast.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  decodeShard,
  encodeCheckpoint,
  loadCheckpoint,
  memorySource,
  parseManifest,
} from '../../../shared/checkpoint/index.ts';
import type { HostTensor } from '../../../shared/checkpoint/index.ts';
import { randomTensor, sampleCheckpoint, sampleMeta, withShard } from './fixtures.ts';
import { mutate, mutation } from '../../helpers/byte-mutations.ts';

/** Runs fn; anything thrown other than CheckpointError fails the property. */
function onlyCheckpointErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw new Error(`threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    expect(e.message.startsWith(`${e.file}: `)).toBe(true);
  }
}

async function validShards(): Promise<Uint8Array[]> {
  const tensors = new Map<string, HostTensor>([
    ['a.w', randomTensor([3, 4], 1)],
    ['b', randomTensor([5], 2)],
    ['__proto__', randomTensor([2, 2], 3)],
    ['s', randomTensor([], 4)],
  ]);
  const out: Uint8Array[] = [];
  for (const quantization of ['fp32', 'fp16', 'int8'] as const) {
    const { files } = await encodeCheckpoint(tensors, sampleMeta(), { quantization, shardBytes: 64 });
    for (const [name, bytes] of files) if (name !== 'manifest.json') out.push(bytes);
  }
  return out;
}

describe('decodeShard fuzzing', () => {
  it('random bytes throw only CheckpointError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => onlyCheckpointErrors(() => decodeShard(bytes, 'fuzz'))),
      { numRuns: 500 },
    );
  });

  it('random bytes behind a map header throw only CheckpointError', () => {
    const header = fc.oneof(
      fc.integer({ min: 0x80, max: 0x8f }).map((b) => [b]),
      fc.tuple(fc.constant(0xde), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map((t) => [...t]),
    );
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 512 }), (h, rest) => {
        const bytes = new Uint8Array([...h, ...rest]);
        onlyCheckpointErrors(() => decodeShard(bytes, 'fuzz'));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid shards throw only CheckpointError (or decode to a valid map)', async () => {
    const shards = await validShards();
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: shards.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, muts) => {
        const bytes = mutate(shards[i], muts);
        onlyCheckpointErrors(() => {
          const out = decodeShard(bytes, 'fuzz');
          for (const [name, t] of out) {
            expect(typeof name).toBe('string');
            expect(t.data).toBeInstanceOf(Uint8Array);
          }
        });
      }),
      { numRuns: 500 },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
  });

  it('mutated shards with a matching sha256: a CheckpointError naming the shard or manifest, or exactly the declared tensors', async () => {
    const { files, manifest } = await sampleCheckpoint('int8', 400);
    let rejected = 0;
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: manifest.shards.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        async (i, muts) => {
          const file = manifest.shards[i].file;
          const bytes = mutate(files.get(file)!, muts);
          if (bytes.length === 0) return;
          const corrupt = await withShard(files, file, bytes);
          const result = await loadCheckpoint(memorySource(corrupt)).catch((e: unknown) => e);
          if (result instanceof CheckpointError) {
            rejected++;
            // The shard, or the manifest when its (updated) size cannot hold the declared tensors.
            expect([`memory/${file}`, 'memory/manifest.json']).toContain(result.file);
            return;
          }
          if (result instanceof Error || !result) throw new Error(`threw ${(result as Error)?.constructor?.name}: ${(result as Error)?.message}`);
          // A flipped byte inside a stored weight is a different, valid weight: then every declared tensor
          // is there, with its declared shape, its data that size, and finite.
          loaded++;
          const { tensors } = result as Awaited<ReturnType<typeof loadCheckpoint>>;
          expect([...tensors.keys()].sort()).toEqual(manifest.tensors.map((t) => t.name).sort());
          for (const spec of manifest.tensors) {
            const t = tensors.get(spec.name)!;
            expect(t.shape).toEqual(spec.shape);
            expect(t.data.length).toBe(spec.shape.reduce((a, b) => a * b, 1));
            expect(t.data.every(Number.isFinite)).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 20261202 },
    );
    // Both outcomes happen, so neither branch is vacuous.
    expect(rejected).toBeGreaterThan(0);
    expect(loaded).toBeGreaterThan(0);
  });
});

describe('manifest fuzzing', () => {
  it('mutated manifest text throws only CheckpointError', async () => {
    const { files } = await sampleCheckpoint('fp16', 700);
    const text = new TextDecoder().decode(files.get('manifest.json'));
    const edit = fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 6 }), ins: fc.string({ maxLength: 6 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let t = text;
        for (const e of edits) {
          const at = e.at % (t.length + 1);
          t = t.slice(0, at) + e.ins + t.slice(at + e.del);
        }
        onlyCheckpointErrors(() => parseManifest(t, 'fuzz/manifest.json'));
      }),
      { numRuns: 500 },
    );
  });

  it('manifests with a field replaced by arbitrary JSON throw only CheckpointError', async () => {
    const { manifest } = await sampleCheckpoint('int8', 700);
    /** All paths to values in a JSON tree. */
    function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
      const out: (string | number)[][] = [prefix];
      if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
      return out;
    }
    const all = paths(manifest).filter((p) => p.length > 0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: all.length - 1 }), fc.jsonValue({ maxDepth: 3 }), (i, value) => {
        const m = structuredClone(manifest) as unknown as Record<string | number, unknown>;
        const path = all[i];
        let node = m as Record<string | number, unknown>;
        for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
        node[path[path.length - 1]] = value;
        onlyCheckpointErrors(() => parseManifest(JSON.stringify(m), 'fuzz/manifest.json'));
      }),
      { numRuns: 500 },
    );
  });
});
