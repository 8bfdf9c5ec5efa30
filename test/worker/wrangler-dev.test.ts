// `wrangler dev` smoke test: the project's own wrangler.toml, run locally
// and offline (workerd from node_modules, R2 simulated on disk), on loopback
// with free ports, bounded in time, stopped in afterAll. Objects go into the
// local bucket with `wrangler r2 object put --local`, as a developer would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../scripts/build-browser.ts';
import { PROJECT_ROOT, runWrangler, WRANGLER_ENV, wranglerBin } from '../../worker/bundle.ts';
import { generateOnDemoPage, NO_CHROMIUM } from '../browser/chromium.ts';
import { tinyCheckpointFiles } from './fixtures.ts';

const READY_TIMEOUT_MS = 60_000;

let tmp: string;
let dev: ChildProcess | undefined;
let base: string;
let files: Map<string, Uint8Array>;

/** Starts `wrangler dev` in its own process group; resolves to the URL it reports once ready. */
function startDev(state: string): Promise<string> {
  // Its own process group, so stopping it also stops the workerd it spawned.
  dev = spawn(process.execPath, [wranglerBin(), 'dev', '--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0', '--persist-to', state], {
    cwd: PROJECT_ROOT,
    env: WRANGLER_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const child = dev;
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`wrangler dev not ready after ${READY_TIMEOUT_MS} ms:\n${log}`)), READY_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      log += d;
      const m = /Ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`wrangler dev exited (${code}) before it was ready:\n${log}`));
    });
  });
}

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the group, SIGKILL if it lingers; returns once the whole group (workerd too) is gone. */
async function stopDev(): Promise<void> {
  const pgid = dev?.pid;
  if (pgid === undefined || !groupAlive(pgid)) return;
  process.kill(-pgid, 'SIGTERM');
  for (let waited = 0; groupAlive(pgid); waited += 50) {
    if (waited === 10_000) process.kill(-pgid, 'SIGKILL');
    if (waited > 15_000) throw new Error(`wrangler dev (process group ${pgid}) did not stop`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'medsynth-wrangler-dev-'));
  const state = join(tmp, 'state');
  const bucket = /^bucket_name\s*=\s*"([^"]+)"/m.exec(await readFile(join(PROJECT_ROOT, 'wrangler.toml'), 'utf8'))![1];
  files = await tinyCheckpointFiles();
  for (const [file, bytes] of files) {
    await writeFile(join(tmp, file), bytes);
    // Also as `default`, the model the demo page asks for.
    for (const id of ['tiny', 'default']) await runWrangler(['r2', 'object', 'put', `${bucket}/${id}/${file}`, '--file', join(tmp, file), '--local', '--persist-to', state]);
  }
  await buildBrowser({ ifStale: true }); // wrangler.toml's [assets]
  base = await startDev(state);
});

afterAll(async () => {
  await stopDev();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('wrangler dev', () => {
  it('serves the app over the local R2 bucket', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true, sampling: false, active: 0, queued: 0 });
    const { models } = (await (await fetch(`${base}/v1/models`)).json()) as { models: { id: string }[] };
    expect(models.map((m) => m.id)).toEqual(['default', 'tiny']);
    for (const [file, bytes] of files) {
      const res = await fetch(`${base}/v1/models/tiny/${file}`);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
      expect((await fetch(`${base}/v1/models/tiny/${file}`, { headers: { 'If-None-Match': res.headers.get('etag')! } })).status).toBe(304);
    }
  });

  it('serves the demo page and, as static assets, the browser bundle it loads, with the bundle headers', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/browser/medsynth.js');
    for (const file of ['medsynth.js', 'medsynth-worker.js', 'tfjs-backend-wasm-simd.wasm']) {
      const res = await fetch(`${base}/browser/${file}`);
      expect(res.status, file).toBe(200);
      // Buffer.equals: a deep toEqual over megabytes takes seconds, long enough for the kept-alive socket to be dropped.
      expect(Buffer.from(await res.arrayBuffer()).equals(await readFile(join(PROJECT_ROOT, 'dist', 'web', 'browser', file))), file).toBe(true);
      expect(res.headers.get('cross-origin-resource-policy'), file).toBe('cross-origin');
    }
  });

  it.skipIf(NO_CHROMIUM)('generates on the demo page in Chromium: cross-origin isolated, the bundle from [assets], the model from R2', async () => {
    // WebGPU here is SwiftShader, which the automatic order skips.
    expect(await generateOnDemoPage(`${base}/`, 2)).toEqual({ backend: 'wasm', isolated: true });
  });

  it('answers JSON errors: 404 for a missing object, 501 for sampling without a GPU origin', async () => {
    const missing = await fetch(`${base}/v1/models/tiny/weights-00009.msgpack`);
    expect([missing.status, ((await missing.json()) as any).error.message]).toEqual([404, 'not found: tiny/weights-00009.msgpack']);
    const sample = await fetch(`${base}/v1/models/tiny/samples`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(sample.status).toBe(501);
  });
});
