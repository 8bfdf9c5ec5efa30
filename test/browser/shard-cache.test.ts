// Checkpoint caching (sampler/browser/cache-store.ts, shard-cache.ts) in Node
// with an in-memory Cache API and a counting fetch over a tiny checkpoint:
// a second visit downloads no shard, corrupt entries heal, a republished
// model never reads old shards, offline visits use the cached manifest, and
// isCached / clearCache see exactly one model. (The real Cache API is
// exercised in Chromium by generator.test.ts.)
import { beforeAll, describe, expect, it } from 'vitest';
import { clearCache, isCached, modelBase, type CacheLike, type CacheStorageLike } from '../../sampler/browser/cache-store.ts';
import { cachedSource } from '../../sampler/browser/shard-cache.ts';
import { loadModel } from '../../sampler/load.ts';
import { useBackend } from '../backends.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';

const BASE = 'https://models.example/v1/models/tiny';

class MemoryCache implements CacheLike, CacheStorageLike {
  readonly entries = new Map<string, Uint8Array>();
  async open() {
    return this;
  }
  async match(url: string) {
    const b = this.entries.get(url);
    return b && new Response(b.slice());
  }
  async put(url: string, res: Response) {
    this.entries.set(url, new Uint8Array(await res.arrayBuffer()));
  }
  async delete(url: string) {
    return this.entries.delete(url);
  }
  async keys() {
    return [...this.entries.keys()].map((url) => ({ url }));
  }
}

/** A fetch over in-memory models (url -> bytes) that records every URL asked for; `offline` makes it throw. */
function server(models: Map<string, Map<string, Uint8Array>>) {
  const requests: string[] = [];
  const state = { offline: false };
  const fetchImpl = (async (input: RequestInfo | URL) => {
    const url = String(input);
    requests.push(url);
    if (state.offline) throw new TypeError('fetch failed');
    const slash = url.lastIndexOf('/');
    const bytes = models.get(url.slice(0, slash))?.get(decodeURIComponent(url.slice(slash + 1)));
    return bytes ? new Response(bytes.slice(), { headers: { 'Content-Length': String(bytes.length) } }) : new Response('not found', { status: 404 });
  }) as typeof fetch;
  return { fetch: fetchImpl, requests, state };
}

let files: Map<string, Uint8Array>;
let republished: Map<string, Uint8Array>;
let shards: string[];

beforeAll(async () => {
  await useBackend('cpu');
  files = (await tinyFiles('ddpm-unet2d', { shardBytes: 16 * 1024 })).files;
  republished = (await tinyFiles('ddpm-unet2d', { shardBytes: 16 * 1024, seed: 2 })).files;
  shards = [...files.keys()].filter((f) => f !== 'manifest.json');
});

async function visit(cache: MemoryCache, fetchImpl: typeof fetch) {
  const source = cachedSource(BASE, { caches: cache, fetch: fetchImpl });
  const m = await loadModel(source);
  m.dispose();
  return source.stats;
}

const shardUrls = (requests: string[]) => requests.filter((u) => u.includes('/weights-'));

describe('shard cache', () => {
  it('downloads every shard once; a second visit asks only for the manifest', async () => {
    expect(shards.length).toBeGreaterThanOrEqual(3);
    const cache = new MemoryCache();
    const net = server(new Map([[BASE, files]]));
    expect(await isCached(BASE, { caches: cache, fetch: net.fetch })).toBe(false);
    expect(await visit(cache, net.fetch)).toEqual({ cached: 0, fetched: shards.length });
    expect(shardUrls(net.requests)).toHaveLength(shards.length);

    net.requests.length = 0;
    expect(await visit(cache, net.fetch)).toEqual({ cached: shards.length, fetched: 0 });
    expect(net.requests).toEqual([`${BASE}/manifest.json`]);
    expect(await isCached(BASE, { caches: cache, fetch: net.fetch })).toBe(true);
  });

  it('drops a corrupt cached shard and downloads it again', async () => {
    const cache = new MemoryCache();
    const net = server(new Map([[BASE, files]]));
    await visit(cache, net.fetch);
    const key = [...cache.entries.keys()].find((k) => k.includes('weights-00001'))!;
    cache.entries.get(key)![100] ^= 0xff;
    net.requests.length = 0;
    expect(await visit(cache, net.fetch)).toEqual({ cached: shards.length - 1, fetched: 1 });
    expect(shardUrls(net.requests)).toEqual([`${BASE}/weights-00001.msgpack`]);
    expect(await visit(cache, net.fetch)).toEqual({ cached: shards.length, fetched: 0 });
  });

  it('never caches a corrupt download (the loader rejects it; the next visit downloads again)', async () => {
    const cache = new MemoryCache();
    const bad = new Map(files);
    const shard = bad.get(shards[0])!.slice();
    shard[10] ^= 0xff;
    bad.set(shards[0], shard);
    const net = server(new Map([[BASE, bad]]));
    await expect(visit(cache, net.fetch)).rejects.toThrow(/sha256 mismatch/);
    expect([...cache.entries.keys()].some((k) => k.includes(shards[0]))).toBe(false);
  });

  it('keys shards by content: a model republished under the same URL never reads the old shards', async () => {
    const cache = new MemoryCache();
    const models = new Map([[BASE, files]]);
    const net = server(models);
    await visit(cache, net.fetch);
    models.set(BASE, republished);
    net.requests.length = 0;
    const stats = await visit(cache, net.fetch);
    expect(stats.fetched).toBe([...republished.keys()].length - 1);
    expect(stats.cached).toBe(0);
  });

  it('offline, uses the cached manifest and shards; a server that answers 404 is not overridden', async () => {
    const cache = new MemoryCache();
    const models = new Map([[BASE, files]]);
    const net = server(models);
    await visit(cache, net.fetch);
    net.state.offline = true;
    expect(await visit(cache, net.fetch)).toEqual({ cached: shards.length, fetched: 0 });
    expect(await isCached(BASE, { caches: cache, fetch: net.fetch })).toBe(true);
    net.state.offline = false;
    models.delete(BASE);
    await expect(visit(cache, net.fetch)).rejects.toThrow(/manifest\.json.*HTTP 404/);
  });

  it('works without a Cache API (downloads every time)', async () => {
    expect((globalThis as { caches?: unknown }).caches).toBeUndefined(); // Node has none: like an insecure context
    const net = server(new Map([[BASE, files]]));
    for (let i = 0; i < 2; i++) {
      const source = cachedSource(BASE, { fetch: net.fetch });
      (await loadModel(source)).dispose();
      expect(source.stats).toEqual({ cached: 0, fetched: shards.length });
    }
  });

  it('clearCache removes one model (shards and manifest copy), not another under the same prefix', async () => {
    const cache = new MemoryCache();
    const other = `${BASE}-2`;
    const net = server(new Map([[BASE, files], [other, files]]));
    await visit(cache, net.fetch);
    const source = cachedSource(other, { caches: cache, fetch: net.fetch });
    (await loadModel(source)).dispose();
    expect(await clearCache(`${BASE}/`, { caches: cache })).toBe(shards.length + 1);
    expect(await isCached(BASE, { caches: cache, fetch: net.fetch })).toBe(false);
    expect(await isCached(other, { caches: cache, fetch: net.fetch })).toBe(true);
  });

  it('normalises model URLs to one prefix', () => {
    expect(modelBase('https://h/v1/models/a/')).toBe('https://h/v1/models/a');
    expect(modelBase('https://h/v1/models/a/manifest.json?x=1#y')).toBe('https://h/v1/models/a');
    expect(modelBase('/v1/models/a', 'https://h/demo/')).toBe('https://h/v1/models/a');
  });
});
