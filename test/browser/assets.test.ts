// Serving the browser side without a browser: the bundle build (files,
// staleness, _headers), the /browser/:file route over a folder (types,
// isolation and CORS headers, ETag, HEAD, 404s naming the fix) and the demo
// page at /.
import { mkdtemp, readFile, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser, isStale } from '../../scripts/build-browser.ts';
import { createApp } from '../../worker/app.ts';
import { folderAssets } from '../../worker/demo/node-assets.ts';
import type { ModelStorage } from '../../worker/storage.ts';

const noModels: ModelStorage = { listModels: async () => [], head: async () => undefined, get: async () => undefined };

let dir: string;
let outdir: string;
let app: Hono;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medsynth-assets-'));
  outdir = join(dir, 'browser');
  await buildBrowser({ outdir });
  app = createApp({ storage: noModels, assets: folderAssets(outdir) });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('browser bundle build', () => {
  it('writes the page module, the worker, the wasm binaries and Workers _headers; rebuilds only when stale', async () => {
    const page = await readFile(join(outdir, 'medsynth.js'), 'utf8');
    expect(page).toMatch(/medsynth-generator/);
    // The page module stays small: tfjs, zod and msgpackr live in the worker.
    expect(page.length).toBeLessThan(100 * 1024);
    expect(await readFile(join(outdir, 'medsynth-worker.js'), 'utf8')).toMatch(/webgpu/);
    expect((await readFile(join(outdir, 'tfjs-backend-wasm-threaded-simd.wasm')).then((b) => b.subarray(0, 4))).toString('latin1')).toBe('\0asm');
    expect(await readFile(join(dir, '_headers'), 'utf8')).toMatch(/^\/browser\/\*\n {2}Cross-Origin-Resource-Policy: cross-origin\n/);
    expect(await isStale(outdir)).toBe(false);
    expect((await buildBrowser({ outdir, ifStale: true })).built).toBe(false);
    // An input newer than the build makes it stale.
    const past = new Date(Date.now() - 3600_000);
    await utimes(join(outdir, 'build.json'), past, past);
    expect(await isStale(outdir)).toBe(true);
    expect(await isStale(join(dir, 'missing'))).toBe(true);
  });
});

describe('/browser/:file', () => {
  it('serves the bundle with its type, ETag and the headers cross-origin isolated pages need', async () => {
    const res = await app.request('/browser/medsynth.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toBe(await readFile(join(outdir, 'medsynth.js'), 'utf8'));
    const etag = res.headers.get('etag')!;
    expect((await app.request('/browser/medsynth.js', { headers: { 'If-None-Match': etag } })).status).toBe(304);

    const wasm = await app.request('/browser/tfjs-backend-wasm-simd.wasm', { method: 'HEAD' });
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(Number(wasm.headers.get('content-length'))).toBeGreaterThan(100_000);
  });

  it('answers 404 JSON for other names, missing files and a missing build (naming the command)', async () => {
    for (const path of ['/browser/..%2Fpackage.json', '/browser/build.json', '/browser/nope.js']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/browser bundle/);
    }
    for (const unbuilt of [createApp({ storage: noModels }), createApp({ storage: noModels, assets: folderAssets(join(dir, 'missing')) })]) {
      const res = await unbuilt.request('/browser/medsynth.js');
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/npm run build:browser/);
    }
  });
});

describe('demo page', () => {
  it('mounts the component on the default model, loads the bundle, shows how to embed it, and is cross-origin isolated', async () => {
    const res = await app.request('http://medsynth.example:8787/');
    const html = await res.text();
    expect(html).toMatch(/<script type="module" src="\/browser\/medsynth.js"><\/script>/);
    expect(html).toMatch(/<medsynth-model-picker for="generator"><\/medsynth-model-picker>\n<medsynth-generator id="generator" model="\/v1\/models\/default"><\/medsynth-generator>/);
    expect(html).toContain('&lt;script type="module" src="http://medsynth.example:8787/browser/medsynth.js"&gt;&lt;/script&gt;');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
  });
});
