// The Workers entry as deployed: wrangler's bundle run by miniflare (workerd)
// with a real R2 binding. Shards go into R2 and come back byte-identical,
// with R2's ETag, 304 and 206; the loader reads a checkpoint through the
// Worker and catches a corrupt shard; sampling is proxied to a Node server
// on loopback (the "GPU origin"), or answers 501 where none is configured.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '../../shared/checkpoint/index.ts';
import { loadModel } from '../../sampler/load.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { urlSource } from '../../sampler/url-source.ts';
import { buildBrowser } from '../../scripts/build-browser.ts';
import { bundleWorker } from '../../worker/bundle.ts';
import { readSse } from '../../worker/http/sse.ts';
import { startServer, type RunningServer } from '../../worker/node/start-server.ts';
import { fakeSampler, memoryStorage, tinyCheckpointFiles } from './fixtures.ts';
import { createApp } from '../../worker/app.ts';

/**
 * Miniflare types its bindings with @cloudflare/workers-types, which this
 * project does not install (its globals clash with the DOM lib): the parts used here.
 */
interface TestBucket {
  put(key: string, value: Uint8Array | string): Promise<unknown>;
  head(key: string): Promise<{ httpEtag: string } | null>;
}
interface TestFetcher {
  fetch(url: string, init: RequestInit): Promise<Response>;
}
const bucketOf = async (mf: Miniflare) => (await mf.getR2Bucket('MODELS')) as unknown as TestBucket;
const workerOf = async (mf: Miniflare, name: string) => (await mf.getWorker(name)) as unknown as TestFetcher;

const EDGE_KEY = 'e'.repeat(24);
const GPU_KEY = 'g'.repeat(24);

let tmp: string;
let bundle: string;
let gpu: RunningServer;
let mf: Miniflare;
let base: URL;
let tiny: Map<string, Uint8Array>;

/** compatibility_date and _flags as wrangler.toml says, so the test runs what deploys. */
async function wranglerCompat() {
  const toml = await readFile(new URL('../../wrangler.toml', import.meta.url), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)![1];
  const flags = [.../^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)![1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  return { compatibilityDate: date, compatibilityFlags: flags };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'medsynth-workers-'));
  tiny = await tinyCheckpointFiles({ shardBytes: 64 * 1024 });
  await writeCheckpointFolder(join(tmp, 'models', 'tiny'), tiny);
  await buildBrowser({ ifStale: true }); // wrangler.toml's [assets] must exist for the dry run
  [bundle, gpu] = await Promise.all([
    bundleWorker(join(tmp, 'bundle')),
    startServer({ modelsDir: join(tmp, 'models'), port: 0, host: '127.0.0.1', backend: 'cpu', apiKey: GPU_KEY, shutdownGraceMs: 1000 }),
  ]);
  const worker = { modules: true, modulesRoot: dirname(bundle), scriptPath: bundle, ...(await wranglerCompat()), r2Buckets: { MODELS: 'models' } };
  mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    workers: [
      // A limit from a wrangler.toml var (a TOML number arrives as a number), under serve's name.
      { ...worker, name: 'edge', bindings: { GPU_ORIGIN: gpu.url, GPU_API_KEY: GPU_KEY, MEDSYNTH_API_KEY: EDGE_KEY, MEDSYNTH_MAX_COUNT: 2 } },
      { ...worker, name: 'bare', bindings: { GPU_ORIGIN: '' } },
      // Port 9 (discard) on loopback: nothing listens, the connection is refused.
      { ...worker, name: 'dead', bindings: { GPU_ORIGIN: 'http://127.0.0.1:9' } },
      { ...worker, name: 'misconfigured', bindings: { MEDSYNTH_API_KEY: 'too-short' } },
    ],
  });
  base = await mf.ready;
  const bucket = await bucketOf(mf);
  for (const [file, bytes] of tiny) await bucket.put(`tiny/${file}`, bytes);
  const corrupt = tiny.get('weights-00000.msgpack')!.slice();
  corrupt[100] ^= 0x01;
  for (const [file, bytes] of tiny) await bucket.put(`corrupt/${file}`, file === 'weights-00000.msgpack' ? corrupt : bytes);
  await bucket.put('not a model/readme.txt', 'x');
});

afterAll(async () => {
  await mf?.dispose();
  await gpu?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const at = (path: string, init?: RequestInit) => fetch(new URL(path, base), init);
const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  at(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body), signal });

describe('the bundle', () => {
  it('holds the app without runtime imports or tfjs', async () => {
    const code = await readFile(bundle, 'utf8');
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:/);
    expect(code).not.toContain('@tensorflow');
    expect(code.length).toBeLessThan(2 * 2 ** 20);
  });
});

describe('shards from R2', () => {
  it('come back byte-identical with R2 httpEtag as a strong ETag', async () => {
    const bucket = await bucketOf(mf);
    for (const [file, bytes] of tiny) {
      const res = await at(`/v1/models/tiny/${file}`);
      expect(res.status, file).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer()), file).toEqual(bytes);
      const etag = res.headers.get('etag')!;
      expect(etag).toBe((await bucket.head(`tiny/${file}`))!.httpEtag);
      expect(etag).toMatch(/^"[0-9a-f]+"$/);
    }
  });

  it('answer If-None-Match with 304, Range with 206, an impossible range with 416, HEAD with headers', async () => {
    const shard = tiny.get('weights-00000.msgpack')!;
    const path = '/v1/models/tiny/weights-00000.msgpack';
    const etag = (await at(path, { method: 'HEAD' })).headers.get('etag')!;
    const head = await at(path, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(shard.length)]);

    const notModified = await at(path, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');

    const part = await at(path, { headers: { Range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${shard.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(shard.subarray(1000, 2000));

    const tail = await at(path, { headers: { Range: 'bytes=-7' } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(shard.subarray(-7));

    const beyond = await at(path, { headers: { Range: `bytes=${shard.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${shard.length}`);
    await beyond.body?.cancel();
  });

  it('answer 404 JSON for a missing object and 400/404 JSON for names outside a checkpoint', async () => {
    for (const [path, status] of [
      ['/v1/models/tiny/weights-00042.msgpack', 404],
      ['/v1/models/ghost/manifest.json', 404],
      ['/v1/models/tiny/readme.txt', 404],
      ['/v1/models/UPPER/manifest.json', 400],
    ] as const) {
      const res = await at(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBeTruthy();
    }
  });

  it('list the models in the bucket', async () => {
    const { models } = (await (await at('/v1/models')).json()) as { models: { id: string; name: string }[] };
    expect(models.map((m) => [m.id, m.name])).toEqual([
      ['corrupt', 'tiny-mri'],
      ['tiny', 'tiny-mri'],
    ]);
  });

  it('feed the checkpoint loader, which detects the corrupt shard', async () => {
    const model = await loadModel(urlSource(new URL('/v1/models/tiny', base).href));
    expect(model.manifest.name).toBe('tiny-mri');
    model.dispose();
    const err = await loadModel(urlSource(new URL('/v1/models/corrupt', base).href)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/weights-00000\.msgpack: sha256 mismatch/);
  });
});

describe('sampling on Workers', () => {
  it('proxies to the GPU origin: the same PNG as asking it directly', async () => {
    expect((await post('/v1/models/tiny/samples', { steps: 2, seed: 4 })).status).toBe(401);
    const res = await post('/v1/models/tiny/samples', { steps: 2, seed: 4 }, { Authorization: `Bearer ${EDGE_KEY}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-medsynth-seed')).toBe('4');
    const direct = await fetch(`${gpu.url}/v1/models/tiny/samples`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${GPU_KEY}` },
      body: JSON.stringify({ steps: 2, seed: 4 }),
    });
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array(await direct.arrayBuffer()));
  });

  it("relays progress as SSE, and the origin's 422 with its field errors", async () => {
    const auth = { Authorization: `Bearer ${EDGE_KEY}` };
    const res = await post('/v1/models/tiny/samples', { steps: 2, seed: 4 }, { ...auth, Accept: 'text/event-stream' });
    const events = [];
    for await (const e of readSse(res.body!)) events.push(e.event);
    expect(events).toEqual(['progress', 'progress', 'result']);

    const bad = await post('/v1/models/tiny/samples', { steps: 101 }, auth);
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as any).error.issues).toEqual([{ path: 'steps', message: 'must be an integer in [1, 100], got 101' }]);

    // MEDSYNTH_MAX_COUNT = 2 refuses three images at the edge (the origin allows 16).
    const many = await post('/v1/models/tiny/samples', { steps: 2, count: 3 }, auth);
    expect(many.status).toBe(422);
    expect(((await many.json()) as any).error.issues).toEqual([{ path: 'count', message: 'Too big: expected number to be <=2' }]);
  });

  it('cancels the generation on the GPU origin when the edge client disconnects', async () => {
    // An origin whose sampler runs until aborted, behind its own edge: the test waits for the abort
    // itself to reach the origin's sampler (no wall-clock bound; the generous timeout only catches a hang).
    const hanging = fakeSampler({ hang: true, stepMs: 5 });
    const origin = createAdaptorServer({ fetch: createApp({ storage: memoryStorage(new Map([['tiny', tiny]])), sampler: hanging, config: { apiKey: GPU_KEY } }).fetch }) as Server;
    await new Promise<void>((res) => origin.listen(0, '127.0.0.1', res));
    const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const { modules, modulesRoot, scriptPath } = { modules: true, modulesRoot: dirname(bundle), scriptPath: bundle };
    const edge = new Miniflare({
      host: '127.0.0.1',
      port: 0,
      workers: [{ modules, modulesRoot, scriptPath, ...(await wranglerCompat()), name: 'edge', r2Buckets: { MODELS: 'models' }, bindings: { GPU_ORIGIN: originUrl, GPU_API_KEY: GPU_KEY, MEDSYNTH_API_KEY: EDGE_KEY } }],
    });
    try {
      const edgeBase = await edge.ready;
      const bucket = await bucketOf(edge);
      for (const [file, bytes] of tiny) await bucket.put(`tiny/${file}`, bytes);
      const ctrl = new AbortController();
      const res = await fetch(new URL('/v1/models/tiny/samples', edgeBase), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${EDGE_KEY}`, Accept: 'text/event-stream' },
        body: JSON.stringify({ steps: 100, seed: 1 }),
        signal: ctrl.signal,
      });
      const reader = res.body!.getReader();
      await reader.read(); // progress from the origin, relayed: the generation is running there
      expect(hanging.calls).toHaveLength(1);
      expect(hanging.calls[0].signal.aborted).toBe(false);
      ctrl.abort();
      await vi.waitFor(() => expect(hanging.calls[0].signal.aborted).toBe(true), { timeout: 60_000, interval: 10 });
    } finally {
      await edge.dispose();
      await new Promise((res) => origin.close(res));
    }
  });

  it('answers 501 JSON without a GPU origin, 502 JSON when it is unreachable, 500 JSON when misconfigured', async () => {
    const url = new URL('/v1/models/tiny/samples', base).href;
    const init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' };
    const bare = await (await workerOf(mf, 'bare')).fetch(url, init);
    expect(bare.status).toBe(501);
    expect(((await bare.json()) as any).error.message).toMatch(/not configured/);
    const dead = await (await workerOf(mf, 'dead')).fetch(url, init);
    expect(dead.status).toBe(502);
    expect(((await dead.json()) as any).error.message).toMatch(/^the GPU origin is unreachable/);
    const misconfigured = await (await workerOf(mf, 'misconfigured')).fetch(new URL('/healthz', base).href, {});
    expect(misconfigured.status).toBe(500);
    expect(await misconfigured.json()).toEqual({ error: { message: "this server is misconfigured; see the Worker's logs" } });
  });
});
