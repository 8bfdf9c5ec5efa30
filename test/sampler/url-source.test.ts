import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, encodeCheckpoint, loadCheckpoint } from '../../shared/checkpoint/index.ts';
import type { HostTensor, LoadProgress } from '../../shared/checkpoint/index.ts';
import { urlSource } from '../../sampler/url-source.ts';
import { bits, randomTensor, sampleMeta } from '../shared/checkpoint/fixtures.ts';

const tensors = new Map<string, HostTensor>([
  ['a.w', randomTensor([64, 40], 1)],
  ['b.w', randomTensor([3, 3, 16, 16], 2)],
  ['c.b', randomTensor([16], 3)],
]);
let files: Map<string, Uint8Array>;
let server: Server;
let base: string;

/** Serves /ckpt/<file> from `files` in 1000-byte chunks so progress arrives piecemeal. */
beforeAll(async () => {
  ({ files } = await encodeCheckpoint(tensors, sampleMeta(), { quantization: 'fp32', shardBytes: 8192 }));
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const name = decodeURIComponent(url.pathname.replace(/^\/ckpt\//, ''));
    if (url.pathname === '/oversize/manifest.json') {
      // No Content-Length: the client only finds out while streaming.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 64; i++) res.write(new Uint8Array(1024));
      res.end();
      return;
    }
    if (url.pathname === '/declared/manifest.json') {
      res.writeHead(200, { 'content-length': String(20 * 2 ** 20) });
      res.end(); // the declared length alone must be refused
      return;
    }
    const bytes = url.pathname.startsWith('/ckpt/') ? files.get(name) : undefined;
    if (!bytes) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
    for (let i = 0; i < bytes.length; i += 1000) {
      res.write(bytes.subarray(i, i + 1000));
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections(); // fetch keeps connections alive
  await new Promise((r) => server.close(r));
});

describe('urlSource', () => {
  it('loads a checkpoint over HTTP with streaming progress', async () => {
    const events: LoadProgress[] = [];
    const { manifest, tensors: loaded } = await loadCheckpoint(urlSource(`${base}/ckpt/`), { onProgress: (p) => events.push(p) });
    for (const [name, t] of tensors) expect(bits(loaded.get(name)!.data)).toEqual(bits(t.data));
    const total = manifest.shards.reduce((a, s) => a + s.bytes, 0);
    expect(manifest.shards.length).toBeGreaterThan(1);
    expect(events.length).toBeGreaterThan(manifest.shards.length * 2); // several events per shard
    for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThan(events[i - 1].loaded);
    for (const e of events) {
      expect(e.total).toBe(total);
      expect(e.fileLoaded).toBeLessThanOrEqual(e.fileTotal);
    }
    expect(events.at(-1)!.loaded).toBe(total);
    expect(new Set(events.map((e) => e.file))).toEqual(new Set(manifest.shards.map((s) => s.file)));
  });

  it('a 404 names the URL and the status', async () => {
    const src = urlSource(`${base}/ckpt`);
    const err = await src.read('weights-00042.msgpack').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).missing).toBe(true);
    expect((err as Error).message).toBe(`${base}/ckpt/weights-00042.msgpack: HTTP 404 Not Found`);
    await expect(loadCheckpoint(urlSource(`${base}/nothing`))).rejects.toThrow(
      new RegExp(`^${base}/nothing/manifest\\.json: missing manifest\\.json \\(HTTP 404 Not Found\\)$`),
    );
  });

  it('a missing shard behind a URL', async () => {
    const src = urlSource(`${base}/ckpt`);
    const dropping = { location: src.location, read: (f: string, on?: (n: number) => void, max?: number) =>
      src.read(f === 'weights-00001.msgpack' ? 'weights-09999.msgpack' : f, on, max) };
    await expect(loadCheckpoint(dropping)).rejects.toThrow(/\/ckpt\/weights-00001\.msgpack: missing shard weights-00001\.msgpack \(HTTP 404 Not Found\)/);
  });

  it('aborts a body that streams past the cap', async () => {
    await expect(loadCheckpoint(urlSource(`${base}/oversize`), { limits: { maxManifestBytes: 10_000 } })).rejects.toThrow(
      new RegExp(`^${base}/oversize/manifest\\.json: response has at least \\d+ bytes, more than the expected 10000$`),
    );
  });

  it('refuses a declared Content-Length over the cap before reading the body', async () => {
    await expect(loadCheckpoint(urlSource(`${base}/declared`))).rejects.toThrow(
      /declared\/manifest\.json: response has 20971520 bytes, more than the expected 16777216/,
    );
  });

  it('a network failure names the URL', async () => {
    const failing = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await expect(urlSource('https://models.example/x', failing).read('manifest.json')).rejects.toThrow(
      /^https:\/\/models\.example\/x\/manifest\.json: fetch failed: fetch failed$/,
    );
  });
});
