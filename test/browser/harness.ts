// The in-page side of the browser suites: plain JavaScript evaluated in the
// page (as a string, so no test-runner transform reaches the browser). It
// drives medsynth/browser from the server under test and returns plain data.
import type { Page } from 'playwright-core';

export interface RunArgs {
  /** Generators are kept per key (one worker each) until dispose(key). */
  key: string;
  model: string;
  backend?: 'webgpu' | 'wasm' | 'cpu';
  workerUrl?: string;
  options: Record<string, unknown>;
  /** Aborts once this many steps are reported. */
  cancelAtStep?: number;
}

export interface RunOutcome {
  ok: boolean;
  /** On success: the first image, and the result's report. */
  data?: number[];
  range?: [number, number];
  shape?: number[];
  backend?: { name: string; skipped: string[]; threads?: number; adapter?: string; selfTestError: number };
  shards?: { cached: number; fetched: number };
  timings?: { loadMs: number; generateMs: number };
  /** On failure. */
  name?: string;
  message?: string;
  field?: string;
  events: { phase: string; [k: string]: unknown }[];
}

const HARNESS = `(() => {
  const lib = import('/browser/medsynth.js');
  const generators = new Map();
  const generator = async (a) => {
    const m = await lib;
    if (!generators.has(a.key)) generators.set(a.key, m.createGenerator({ model: a.model, backend: a.backend, workerUrl: a.workerUrl }));
    return generators.get(a.key);
  };
  window.medsynthTest = {
    async run(a) {
      const g = await generator(a);
      const events = [];
      const ctrl = new AbortController();
      try {
        const r = await g.generate(a.options, {
          signal: ctrl.signal,
          onProgress: (p) => {
            events.push(p);
            if (p.phase === 'steps' && a.cancelAtStep !== undefined && p.step >= a.cancelAtStep) ctrl.abort();
          },
        });
        const im = r.images[0];
        return { ok: true, data: Array.from(im.data), range: im.range, shape: im.shape, backend: r.backend, shards: r.shards, timings: r.timings, events };
      } catch (e) {
        return { ok: false, name: e.name, message: e.message, field: e.field, events };
      }
    },
    async memory(a) { return (await generator(a)).memory(); },
    async unload(a) { return (await generator(a)).unload(); },
    async isCached(model) { return (await lib).isCached(model); },
    async clearCache(model) { return (await lib).clearCache(model); },
    dispose(key) { generators.get(key)?.dispose(); generators.delete(key); },
    blobUrl(text) { return URL.createObjectURL(new Blob([text], { type: 'text/javascript' })); },
  };
})();`;

/** Installs the harness in the page's current document. */
export async function installHarness(page: Page): Promise<void> {
  await page.evaluate(HARNESS);
}

export function run(page: Page, args: RunArgs): Promise<RunOutcome> {
  return page.evaluate(`window.medsynthTest.run(${JSON.stringify(args)})`) as Promise<RunOutcome>;
}

export function call<T>(page: Page, method: 'memory' | 'unload' | 'isCached' | 'clearCache' | 'dispose' | 'blobUrl', arg: unknown): Promise<T> {
  return page.evaluate(`window.medsynthTest.${method}(${JSON.stringify(arg)})`) as Promise<T>;
}
