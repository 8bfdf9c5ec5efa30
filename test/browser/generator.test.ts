// createGenerator() in real headless Chromium against the Node server on a
// random port, with a tiny checkpoint (16x16 UNet2D, several shards): the
// wasm path matches Node's wasm result for the same seed; WebGPU
// (SwiftShader) agrees with cpu; a lost WebGPU device falls back to wasm and
// finishes; a reload reads every shard from the Cache API; cancel stops the
// run and frees its tensors.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/checkpoint/index.ts';
import { generate } from '../../sampler/generate.ts';
import { loadModel } from '../../sampler/load.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { startServer, type RunningServer } from '../../worker/node/start-server.ts';
import { useBackend } from '../backends.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';
import { ensureBundle, launchChromium, NO_CHROMIUM, type Browser } from './chromium.ts';
import { call, installHarness, run, type RunOutcome } from './harness.ts';

const SEED = 7;
const STEPS = 4;
// The same bound the Node suites use between cpu and wasm (README, Backends): max |diff| over the intensity range.
const TOLERANCE = 1e-3;

let dir: string;
let server: RunningServer;
let browser: Browser;
let page: Page;
let files: Map<string, Uint8Array>;
let shardCount: number;
let nodeWasm: Float32Array;
let model: string;

/** max |a - b| over the width of the intensity range. */
function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, [lo, hi]: [number, number]): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / (hi - lo);
}

function ok(r: RunOutcome): Required<Pick<RunOutcome, 'data' | 'range' | 'backend' | 'shards' | 'timings'>> & RunOutcome {
  if (!r.ok) throw new Error(`generation failed in the browser: ${r.name}: ${r.message}`);
  return r as ReturnType<typeof ok>;
}

/** A same-origin page without a CSP (the demo page's forbids blob: workers), cross-origin isolated like the demo. */
async function openHarnessPage(): Promise<Page> {
  const p = await browser.context.newPage();
  await p.route(`${server.url}/harness.html`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      body: '<!doctype html><title>medsynth harness</title>',
    }),
  );
  await p.goto(`${server.url}/harness.html`);
  await installHarness(p);
  return p;
}

describe.skipIf(NO_CHROMIUM)('createGenerator in Chromium', () => {
  beforeAll(async () => {
    await ensureBundle();
    const tiny = await tinyFiles('ddpm-unet2d', { shardBytes: 16 * 1024 });
    files = tiny.files;
    shardCount = tiny.manifest.shards.length;
    dir = await mkdtemp(join(tmpdir(), 'medsynth-browser-'));
    await writeCheckpointFolder(join(dir, 'tiny'), files);
    server = await startServer({ modelsDir: dir, port: 0, host: '127.0.0.1', backend: 'cpu', shutdownGraceMs: 1000 });
    model = `${server.url}/v1/models/tiny`;

    // The Node reference: the same checkpoint, seed and steps on Node's wasm backend.
    await useBackend('wasm');
    const m = await loadModel(memorySource(files));
    nodeWasm = (await generate(m, { seed: SEED, steps: STEPS })).images[0].data;
    m.dispose();

    browser = await launchChromium();
    page = await openHarnessPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has several shards to download (the cache and progress tests need them)', () => {
    expect(shardCount).toBeGreaterThanOrEqual(3);
  });

  it('wasm: the same image as Node wasm for the same seed, shards downloaded with progress', async () => {
    const wasmFiles: string[] = [];
    const onRequest = (r: { url(): string }) => r.url().endsWith('.wasm') && wasmFiles.push(r.url().split('/').pop()!);
    browser.context.on('request', onRequest);
    const r = ok(await run(page, { key: 'wasm', model, backend: 'wasm', options: { seed: SEED, steps: STEPS } }));
    browser.context.off('request', onRequest);

    const diff = maxRelDiff(r.data, nodeWasm, r.range);
    console.log(`browser wasm vs Node wasm: max |diff| = ${diff.toExponential(2)} of the range; browser ${r.timings.generateMs.toFixed(0)} ms for ${STEPS} steps`);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
    expect(r.backend).toMatchObject({ name: 'wasm', skipped: [] });
    expect(r.backend.selfTestError).toBeLessThan(1e-5);
    // The page is cross-origin isolated, so tfjs loads the threaded binary (threads = cores / 2, tfjs's cap).
    expect(wasmFiles).toEqual(['tfjs-backend-wasm-threaded-simd.wasm']);
    expect(r.backend.threads).toBeGreaterThanOrEqual(1);
    expect(r.shards).toEqual({ cached: 0, fetched: shardCount });

    const downloads = r.events.filter((e) => e.phase === 'download') as unknown as { loaded: number; total: number; cached: boolean }[];
    const total = [...files].filter(([f]) => f !== 'manifest.json').reduce((n, [, b]) => n + b.length, 0);
    expect(downloads.length).toBeGreaterThanOrEqual(shardCount);
    expect(downloads.every((e, i) => e.total === total && !e.cached && (i === 0 || e.loaded > downloads[i - 1].loaded))).toBe(true);
    expect(downloads.at(-1)!.loaded).toBe(total);
    const steps = r.events.filter((e) => e.phase === 'steps').map((e) => e.step);
    expect(steps).toEqual([1, 2, 3, 4]);
    await call(page, 'dispose', 'wasm');
  });

  it('webgpu (SwiftShader) agrees with cpu on the same seed', async () => {
    const gpu = ok(await run(page, { key: 'webgpu', model, backend: 'webgpu', options: { seed: SEED, steps: 2 } }));
    const cpu = ok(await run(page, { key: 'cpu', model, backend: 'cpu', options: { seed: SEED, steps: 2 } }));
    const diff = maxRelDiff(gpu.data, cpu.data, cpu.range);
    console.log(`browser webgpu (${gpu.backend.adapter}) vs cpu: max |diff| = ${diff.toExponential(2)} of the range; webgpu ${gpu.timings.generateMs.toFixed(0)} ms, cpu ${cpu.timings.generateMs.toFixed(0)} ms for 2 steps`);
    expect(gpu.backend.name).toBe('webgpu');
    expect(cpu.backend.name).toBe('cpu');
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
    // Only the generation's tensors are gone afterwards: the kept model's parameters remain.
    const mem = await call<{ numTensors: number; loadedModels: number }>(page, 'memory', { key: 'webgpu', model });
    expect(mem.loadedModels).toBe(1);
    const params = (JSON.parse(new TextDecoder().decode(files.get('manifest.json'))) as { tensors: unknown[] }).tensors.length;
    expect(mem.numTensors).toBe(params);
    await call(page, 'dispose', 'webgpu');
    await call(page, 'dispose', 'cpu');
  });

  it('passes a software WebGPU adapter (SwiftShader) over in the automatic order, saying why', async () => {
    const r = ok(await run(page, { key: 'auto', model, options: { seed: SEED, steps: 1 } }));
    expect(r.backend.name).toBe('wasm');
    expect(r.backend.skipped).toEqual(['webgpu: only a software adapter (google swiftshader), slower than wasm; force the webgpu backend to use it']);
    await call(page, 'dispose', 'auto');
  });

  it('picks webgpu first; when its device is lost mid-run it falls back to wasm and finishes the same image', async () => {
    // The worker script behind a prelude that destroys the WebGPU device after some queue submissions.
    // It also presents SwiftShader as a hardware adapter: the automatic order passes software adapters over.
    const prelude = `
      Object.defineProperty(GPUAdapterInfo.prototype, 'isFallbackAdapter', { get: () => false });
      let submits = 0;
      const requestDevice = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (...args) {
        const device = await requestDevice.apply(this, args);
        const submit = device.queue.submit.bind(device.queue);
        device.queue.submit = (buffers) => { submit(buffers); if (++submits === 30) device.destroy(); };
        return device;
      };
      importScripts(${JSON.stringify(`${server.url}/browser/medsynth-worker.js`)});`;
    const workerUrl = await call<string>(page, 'blobUrl', prelude);
    const r = ok(await run(page, { key: 'lost', model, workerUrl, options: { seed: SEED, steps: STEPS } }));
    const backends = r.events.filter((e) => e.phase === 'backend').map((e) => (e.backend as { name: string }).name);
    expect(backends).toEqual(['webgpu', 'wasm']);
    expect(r.backend.name).toBe('wasm');
    expect(r.backend.skipped).toEqual([expect.stringMatching(/^webgpu: device lost \(destroyed\)/)]);
    expect(maxRelDiff(r.data, nodeWasm, r.range)).toBeLessThanOrEqual(TOLERANCE);
    // The restart reloaded the model from the cache.
    expect(r.shards).toEqual({ cached: shardCount, fetched: 0 });
    await call(page, 'dispose', 'lost');
  });

  it('a reload reads every shard from the Cache API and requests none', async () => {
    expect(await call(page, 'isCached', model)).toBe(true);
    const shardRequests: string[] = [];
    const onRequest = (r: { url(): string }) => r.url().includes('/weights-') && shardRequests.push(r.url());
    browser.context.on('request', onRequest);
    await page.reload();
    await installHarness(page);
    const r = ok(await run(page, { key: 'reload', model, backend: 'wasm', options: { seed: SEED, steps: STEPS } }));
    browser.context.off('request', onRequest);
    expect(shardRequests).toEqual([]);
    expect(r.shards).toEqual({ cached: shardCount, fetched: 0 });
    expect(r.events.filter((e) => e.phase === 'download').every((e) => e.cached)).toBe(true);
    expect(maxRelDiff(r.data, nodeWasm, r.range)).toBeLessThanOrEqual(TOLERANCE);
    await call(page, 'dispose', 'reload');

    expect(await call(page, 'clearCache', model)).toBe(shardCount + 1); // the shards and the manifest copy
    expect(await call(page, 'isCached', model)).toBe(false);
  });

  it('cancel stops generation and frees its tensors; the generator keeps working; unload frees the model', async () => {
    const key = 'cancel';
    ok(await run(page, { key, model, backend: 'wasm', options: { seed: SEED, steps: 1 } }));
    const before = await call<{ numTensors: number; numBytes: number }>(page, 'memory', { key, model });
    // 100 steps = the schedule's T, far more than run before the abort lands.
    const r = await run(page, { key, model, backend: 'wasm', options: { seed: SEED, steps: 100 }, cancelAtStep: 2 });
    expect(r).toMatchObject({ ok: false, name: 'AbortError' });
    const done = r.events.filter((e) => e.phase === 'steps').length;
    expect(done).toBeLessThan(100);
    const after = await call<{ numTensors: number; numBytes: number }>(page, 'memory', { key, model });
    expect(after).toEqual(before);
    ok(await run(page, { key, model, backend: 'wasm', options: { seed: SEED, steps: 1 } }));
    // unload() frees the kept model too.
    await call(page, 'unload', { key, model });
    expect(await call(page, 'memory', { key, model })).toEqual({ backend: 'wasm', numTensors: 0, numBytes: 0, loadedModels: 0 });
    await call(page, 'dispose', key);
  });

  it('rejects bad options with a ConfigError naming the field, before any step', async () => {
    const r = await run(page, { key: 'bad', model, backend: 'cpu', options: { steps: 0 } });
    expect(r).toMatchObject({ ok: false, name: 'RequestError', field: 'steps' });
    expect(r.events.some((e) => e.phase === 'steps')).toBe(false);
    const missing = await run(page, { key: 'missing', model: `${server.url}/v1/models/nope`, backend: 'cpu', options: {} });
    expect(missing).toMatchObject({ ok: false, name: 'CheckpointError' });
    expect(missing.message).toMatch(/nope\/manifest\.json.*404/);
    await call(page, 'dispose', 'bad');
    await call(page, 'dispose', 'missing');
  });
});
