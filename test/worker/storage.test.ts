// One suite over every ModelStorage (worker/storage.ts) the app runs on, after
// hono's common.case.test.ts pattern: the in-memory one the app tests use,
// the folder the Node server reads (worker/node/folder-storage.ts) and R2
// (worker/r2-storage.ts) as workerd runs it under miniflare. Each must list,
// head and get alike, ranges and If-None-Match included, so an app test over
// the memory storage says something about the deployed ones.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Headers as MiniflareHeaders, Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { folderStorage } from '../../worker/node/folder-storage.ts';
import { r2Storage, type R2BucketLike } from '../../worker/r2-storage.ts';
import { isModelId, type ModelStorage, type StoredFile } from '../../worker/storage.ts';
import { memoryStorage } from './fixtures.ts';

const SHARD = 'weights-00000.msgpack';
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
/** Two models; the shard spans several of every storage's chunks. */
const MODELS = new Map<string, Map<string, Uint8Array>>([
  ['alpha', new Map([['manifest.json', new TextEncoder().encode('{"name":"alpha"}')], [SHARD, bytes(300_000, 1)]])],
  ['beta-2', new Map([['manifest.json', new TextEncoder().encode('{"name":"beta"}')]])],
]);

/** A storage holding MODELS, and how to replace one file in it (as a publish would). */
interface Harness {
  storage: ModelStorage;
  replace(id: string, file: string, bytes: Uint8Array): Promise<void>;
  dispose(): Promise<void>;
}

/** Minimal R2 bucket surface for seeding: miniflare types it with @cloudflare/workers-types, not installed here. */
interface SeedBucket extends R2BucketLike {
  put(key: string, value: Uint8Array): Promise<unknown>;
}

const IMPLEMENTATIONS: [string, () => Promise<Harness>][] = [
  [
    'memory (the app tests)',
    async () => {
      const models = new Map([...MODELS].map(([id, files]) => [id, new Map(files)]));
      return { storage: memoryStorage(models), replace: async (id, f, b) => void models.get(id)!.set(f, b), dispose: async () => {} };
    },
  ],
  [
    'folder (medsynth serve)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'medsynth-storage-'));
      for (const [id, files] of MODELS) await writeCheckpointFolder(join(dir, id), files);
      await writeFile(join(dir, 'stray-file'), 'not a model');
      return { storage: folderStorage(dir), replace: (id, f, b) => writeFile(join(dir, id, f), b), dispose: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
  [
    'R2 (Workers, under miniflare)',
    async () => {
      const mf = new Miniflare({ modules: true, script: 'export default { fetch: () => new Response("") }', r2Buckets: ['MODELS'], compatibilityDate: '2024-09-23' });
      const bucket = (await mf.getR2Bucket('MODELS')) as unknown as SeedBucket;
      for (const [id, files] of MODELS) for (const [f, b] of files) await bucket.put(`${id}/${f}`, b);
      await bucket.put('Not A Model/readme.txt', new Uint8Array(1));
      // Node's global Headers cannot cross miniflare's proxy into workerd; its own (undici's) class can, with the same header.
      const proxied: R2BucketLike = {
        head: (key) => bucket.head(key),
        list: (o) => bucket.list(o),
        get: (key, o) => {
          if (!o?.onlyIf) return bucket.get(key, o);
          const onlyIf = new MiniflareHeaders();
          o.onlyIf.forEach((v, k) => onlyIf.set(k, v));
          return bucket.get(key, { ...o, onlyIf: onlyIf as unknown as Headers });
        },
      };
      return { storage: r2Storage(proxied), replace: async (id, f, b) => void (await bucket.put(`${id}/${f}`, b)), dispose: () => mf.dispose() };
    },
  ],
];

const read = async (f: StoredFile | undefined) => new Uint8Array(await new Response(f!.body).arrayBuffer());

describe.each(IMPLEMENTATIONS)('ModelStorage: %s', (_name, make) => {
  let h: Harness;
  beforeAll(async () => {
    h = await make();
  }, 60_000);
  afterAll(() => h?.dispose());

  it('lists every model, sorted, and nothing that is not a model id', async () => {
    const ids = await h.storage.listModels();
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['alpha', 'beta-2']));
    expect(ids.every(isModelId)).toBe(true);
  });

  it('heads a file with its size and a strong quoted ETag, and nothing for a missing file or model', async () => {
    const head = await h.storage.head('alpha', SHARD);
    expect(head).toEqual({ size: 300_000, etag: expect.stringMatching(/^"[^"]+"$/) });
    expect(head!.body).toBeUndefined();
    expect(await h.storage.head('alpha', 'weights-00001.msgpack')).toBeUndefined();
    expect(await h.storage.head('gamma', 'manifest.json')).toBeUndefined();
  });

  it('gets the whole file byte for byte, with the ETag head gives', async () => {
    const f = await h.storage.get('alpha', SHARD);
    expect(f!.size).toBe(300_000);
    expect(f!.etag).toBe((await h.storage.head('alpha', SHARD))!.etag);
    expect(await read(f)).toEqual(MODELS.get('alpha')!.get(SHARD));
    expect(await h.storage.get('beta-2', SHARD)).toBeUndefined();
  });

  it('gets a byte range, with the whole file\'s size', async () => {
    for (const range of [{ offset: 0, length: 1 }, { offset: 123_456, length: 70_000 }, { offset: 299_999, length: 1 }]) {
      const f = await h.storage.get('alpha', SHARD, { range });
      expect(f!.size).toBe(300_000);
      expect(await read(f)).toEqual(MODELS.get('alpha')!.get(SHARD)!.subarray(range.offset, range.offset + range.length));
    }
  });

  it('answers a matching If-None-Match without a body, and another ETag with one', async () => {
    const { etag } = (await h.storage.head('alpha', 'manifest.json'))!;
    const hit = await h.storage.get('alpha', 'manifest.json', { ifNoneMatch: etag });
    expect(hit).toEqual({ size: 16, etag });
    const miss = await h.storage.get('alpha', 'manifest.json', { ifNoneMatch: '"something-else"' });
    expect(new TextDecoder().decode(await read(miss))).toBe('{"name":"alpha"}');
  });

  it('gives a replaced file a new ETag and its new bytes', async () => {
    const before = (await h.storage.head('beta-2', 'manifest.json'))!.etag;
    const next = new TextEncoder().encode('{"name":"beta","v":2}');
    await h.replace('beta-2', 'manifest.json', next);
    const after = await h.storage.get('beta-2', 'manifest.json');
    expect(after!.etag).not.toBe(before);
    expect(after!.size).toBe(next.length);
    expect(await read(after)).toEqual(next);
    // The old ETag no longer matches: a client holding the old copy gets the new one.
    expect((await h.storage.get('beta-2', 'manifest.json', { ifNoneMatch: before }))!.body).toBeDefined();
  });
});
