// One suite over every CheckpointSource (shared/checkpoint/types.ts) the
// loader reads from, after hono's common.case.test.ts pattern: memory (a
// writer's output), a folder (sampler/node/folder-source.ts), a URL prefix
// served by `medsynth serve` (sampler/url-source.ts) and the same URL through
// the shard cache on disk (sampler/browser/shard-cache.ts over
// sampler/node/disk-cache.ts). Each must return the same bytes, report
// progress, refuse oversize files and odd names, and mark missing files as
// missing, so the loader behaves alike whatever the checkpoint sits on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, loadCheckpoint, memorySource, type CheckpointSource } from '../../../shared/checkpoint/index.ts';
import { cachedSource } from '../../../sampler/browser/shard-cache.ts';
import { writeCheckpointFolder } from '../../../sampler/node/checkpoint-folder.ts';
import { diskCache } from '../../../sampler/node/disk-cache.ts';
import { folderSource } from '../../../sampler/node/folder-source.ts';
import { urlSource } from '../../../sampler/url-source.ts';
import { startServer, type RunningServer } from '../../../worker/node/start-server.ts';
import { sampleCheckpoint } from './fixtures.ts';

let files: Map<string, Uint8Array>;
let dir: string;
let server: RunningServer;

beforeAll(async () => {
  files = (await sampleCheckpoint('fp32', 1024)).files;
  dir = await mkdtemp(join(tmpdir(), 'medsynth-sources-'));
  await writeCheckpointFolder(join(dir, 'models', 'tiny'), files);
  server = await startServer({ modelsDir: join(dir, 'models'), port: 0, host: '127.0.0.1', backend: 'cpu', shutdownGraceMs: 1000 });
}, 60_000);
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const IMPLEMENTATIONS: [string, () => CheckpointSource][] = [
  ['memory', () => memorySource(files, 'mem/tiny')],
  ['folder', () => folderSource(join(dir, 'models', 'tiny'))],
  ['URL (medsynth serve)', () => urlSource(`${server.url}/v1/models/tiny/`)],
  ['URL through the disk shard cache', () => cachedSource(`${server.url}/v1/models/tiny/`, { caches: diskCache(join(dir, 'cache')) })],
];

/** The error `p` rejects with, which must be a CheckpointError. */
async function failure(p: Promise<unknown>): Promise<CheckpointError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(CheckpointError);
  return e as CheckpointError;
}

describe.each(IMPLEMENTATIONS)('CheckpointSource: %s', (_name, make) => {
  it('reads every file byte for byte, reporting progress that ends at the file size', async () => {
    const source = make();
    expect(files.size).toBeGreaterThan(2); // the manifest and several shards
    for (const [file, bytes] of files) {
      const seen: number[] = [];
      expect(Buffer.from(await source.read(file, (n) => seen.push(n))).equals(bytes)).toBe(true);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen.at(-1)).toBe(bytes.length);
    }
  });

  it('loads the checkpoint to the same tensors as the writer produced', async () => {
    const want = await loadCheckpoint(memorySource(files));
    const got = await loadCheckpoint(make());
    expect(got.manifest).toEqual(want.manifest);
    expect([...got.tensors.keys()]).toEqual([...want.tensors.keys()]);
    for (const [k, t] of want.tensors) expect(got.tensors.get(k)!.data).toEqual(t.data);
  });

  it('marks a file that is not there as missing, naming it', async () => {
    const e = await failure(make().read('weights-00099.msgpack'));
    expect(e.missing).toBe(true);
    expect(e.message).toContain('weights-00099.msgpack');
  });

  it('refuses a file larger than maxBytes, naming the size expected', async () => {
    const source = make();
    await source.read('manifest.json'); // a cached source learns its shards here
    const [shard, bytes] = [...files].filter(([f]) => f !== 'manifest.json').sort(([, a], [, b]) => b.length - a.length)[0];
    const e = await failure(source.read(shard, undefined, bytes.length - 1));
    expect(e.missing).toBeFalsy();
    expect(e.message).toContain(`more than the expected ${bytes.length - 1}`);
  });

  it('refuses names that are not plain file names before touching anything', async () => {
    for (const bad of ['../tiny/manifest.json', 'sub/manifest.json', '', '..']) {
      const e = await failure(make().read(bad));
      expect(e.missing, bad).toBeFalsy();
      expect(e.message).toMatch(/not a plain name|empty file name|directory reference/);
    }
  });
});
