// The Node generator (medsynth's createGenerator) over a real HTTP server:
// the browser's progress events and result, the same images as loadModel +
// generate, shards cached on disk and not downloaded again, a corrupt cache
// entry dropped and fetched anew, clearCache, folders read in place, and no
// tensor left behind.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../../shared/checkpoint/index.ts';
import { generate } from '../../../sampler/generate.ts';
import { loadModel } from '../../../sampler/load.ts';
import { writeCheckpointFolder } from '../../../sampler/node/checkpoint-folder.ts';
import { CACHE_NAME } from '../../../sampler/browser/cache-store.ts';
import { createGenerator, type NodeProgress } from '../../../sampler/node/generator.ts';
import { useBackend } from '../../backends.ts';
import { tinyFiles } from '../../helpers/tiny-models.ts';

let dir: string;
let server: Server;
let url: string;
let files: Map<string, Uint8Array>;
const requests: string[] = [];

beforeAll(async () => {
  await useBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'medsynth-node-generator-'));
  files = (await tinyFiles('ddpm-unet2d', { shardBytes: 20_000 })).files;
  server = createServer((req, res) => {
    const file = decodeURIComponent(req.url!.split('/').pop()!);
    requests.push(file);
    const bytes = files.get(file);
    if (!bytes) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length }).end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/models/tiny`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const shardNames = () => [...files.keys()].filter((f) => f !== 'manifest.json').sort();

describe('createGenerator (Node)', () => {
  it("reports the browser's progress events and returns its result; the images are generate()'s", async () => {
    expect(shardNames().length).toBeGreaterThan(1);
    const cacheDir = join(dir, 'cache-a');
    const before = tf.memory().numTensors;
    const g = createGenerator({ model: url, backend: 'cpu', cacheDir });
    const events: NodeProgress[] = [];
    const r = await g.generate({ steps: 2, seed: 3 }, { onProgress: (p) => events.push(p) });
    expect(events[0]).toEqual({ phase: 'backend', backend: { name: 'cpu', skipped: [] } });
    const downloads = events.filter((e) => e.phase === 'download');
    expect(downloads.at(-1)).toMatchObject({ loaded: downloads.at(-1)!.total, cached: false });
    expect(events.filter((e) => e.phase === 'steps')).toEqual([{ phase: 'steps', step: 1, totalSteps: 2 }, { phase: 'steps', step: 2, totalSteps: 2 }]);
    expect(r).toMatchObject({ backend: { name: 'cpu' }, steps: 2, seed: 3, shards: { cached: 0, fetched: shardNames().length } });
    const direct = await loadModel(memorySource(files));
    const { images } = await generate(direct, { steps: 2, seed: 3 });
    direct.dispose();
    expect(r.images[0].data).toEqual(images[0].data);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('never downloads an unchanged shard twice; a corrupt cache entry is dropped and fetched again', async () => {
    const cacheDir = join(dir, 'cache-b');
    const first = createGenerator({ model: url, backend: 'cpu', cacheDir });
    const a = await first.generate({ steps: 2, seed: 1 });
    first.dispose();
    expect(await first.isCached()).toBe(true);

    requests.length = 0;
    const events: NodeProgress[] = [];
    const second = createGenerator({ model: url, backend: 'cpu', cacheDir });
    const b = await second.generate({ steps: 2, seed: 1 }, { onProgress: (p) => events.push(p) });
    second.dispose();
    expect(requests).toEqual(['manifest.json']); // the manifest is always asked for: a republished model changes it
    expect(b.shards).toEqual({ cached: shardNames().length, fetched: 0 });
    expect(events.filter((e) => e.phase === 'download' && e.file !== 'manifest.json').every((e) => e.phase === 'download' && e.cached)).toBe(true);
    expect(b.images[0].data).toEqual(a.images[0].data);

    // Flip a byte in one cached shard: it fails its sha256 on reading, is dropped and downloaded again.
    const folder = join(cacheDir, CACHE_NAME);
    const bin = (await readdir(folder)).filter((f) => f.endsWith('.bin'));
    let corrupted = 0;
    for (const f of bin) {
      const bytes = await readFile(join(folder, f));
      if (bytes.length === files.get(shardNames()[0])!.length && corrupted === 0) {
        bytes[bytes.length >> 1] ^= 0xff;
        await writeFile(join(folder, f), bytes);
        corrupted++;
      }
    }
    expect(corrupted).toBe(1);
    requests.length = 0;
    const third = createGenerator({ model: url, backend: 'cpu', cacheDir });
    const c = await third.generate({ steps: 2, seed: 1 });
    expect(c.shards).toEqual({ cached: shardNames().length - 1, fetched: 1 });
    expect(requests.filter((f) => f !== 'manifest.json')).toHaveLength(1);
    expect(c.images[0].data).toEqual(a.images[0].data);

    // clearCache removes every entry of the model (its shards and the manifest kept for offline use).
    expect(await third.clearCache()).toBe(shardNames().length + 1);
    expect(await third.isCached()).toBe(false);
    third.dispose();
  });

  it('reads a checkpoint folder in place, without a cache', async () => {
    const folder = join(dir, 'model');
    await writeCheckpointFolder(folder, files);
    const g = createGenerator({ model: folder, backend: 'cpu', cacheDir: join(dir, 'cache-c') });
    const r = await g.generate({ steps: 2 });
    expect(r.shards).toEqual({ cached: 0, fetched: 0 });
    expect(r.images).toHaveLength(1);
    expect(await g.isCached()).toBe(false);
    g.dispose();
  });
});
