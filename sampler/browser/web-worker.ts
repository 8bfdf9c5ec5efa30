// The generation worker: loads checkpoints (shards through the Cache API),
// picks a backend with the self-test, and runs generate() off the page's main
// thread. Requests run one at a time; cancel requests act at once. When the
// WebGPU device is lost, the request restarts on the next backend (same seed,
// same image) and the page is told the new backend.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../../shared/config.ts';
import { toErrorRecord } from '../../shared/error-record.ts';
import { generate } from '../generate.ts';
import { loadModel, type LoadedModel } from '../load.ts';
import { discardBackend, selectBrowserBackend } from './backends.ts';
import type { BackendReport, BrowserBackendName, BrowserGenerateOptions, BrowserGenerateResult, Reply, Request, WorkerInit } from './protocol.ts';
import { modelBase } from './cache-store.ts';
import { cachedSource } from './shard-cache.ts';

/** The worker global scope, as far as it is used here (the project's DOM typings lack WebWorker). */
interface WorkerScope {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent<WorkerInit | Request>) => void): void;
}
const scope = globalThis as unknown as WorkerScope;

let init: WorkerInit | undefined;
let backend: BackendReport | undefined;
/** Backends given up on for this worker's life (a lost WebGPU device), with the reason. */
const excluded = new Map<BrowserBackendName, string>();
/** The loaded model, kept for the next request (one at a time: the large ones fill the heap). */
let loaded: { base: string; model: LoadedModel } | undefined;
/** The running request's controller by id; the abort reason tells a cancel (AbortError) from a device loss. */
const running = new Map<number, AbortController>();
let queue: Promise<unknown> = Promise.resolve();

class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

function post(message: Reply, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}


function unload(): void {
  loaded?.model.dispose();
  loaded = undefined;
}

/** The backend for the next request: chosen once, again only after a device loss. */
async function ensureBackend(id: number): Promise<BackendReport> {
  if (backend && !excluded.has(backend.name)) return backend;
  unload(); // its tensors live on the previous backend
  backend = await selectBrowserBackend({
    force: init!.backend,
    exclude: excluded,
    wasmPaths: init!.assets,
    onDeviceLost: (reason) => {
      excluded.set('webgpu', reason);
      for (const c of running.values()) c.abort(new DeviceLostError(`webgpu: ${reason}`));
    },
  });
  post({ id, type: 'progress', progress: { phase: 'backend', backend } });
  return backend;
}

async function run(id: number, model: string, options: BrowserGenerateOptions, signal: AbortSignal): Promise<BrowserGenerateResult> {
  const chosen = await ensureBackend(id);
  const base = modelBase(model);
  const loadStart = performance.now();
  let source: ReturnType<typeof cachedSource> | undefined;
  if (loaded?.base !== base) {
    unload();
    let cachedFile = false;
    source = cachedSource(base, { onShard: (_, cached) => (cachedFile = cached) });
    const m = await loadModel(source, {
      onProgress: (p) => post({ id, type: 'progress', progress: { phase: 'download', file: p.file, loaded: p.loaded, total: p.total, cached: cachedFile } }),
    });
    loaded = { base, model: m };
  }
  signal.throwIfAborted();
  const loadMs = performance.now() - loadStart;
  const start = performance.now();
  const out = await generate(loaded!.model, options, {
    signal,
    onProgress: (p) => post({ id, type: 'progress', progress: { phase: 'steps', ...p } }),
  });
  return {
    images: out.images,
    backend: chosen,
    sampler: out.sampler,
    steps: out.steps,
    seed: out.seed,
    timings: { loadMs, generateMs: performance.now() - start },
    shards: source ? { ...source.stats } : { cached: 0, fetched: 0 },
  };
}

/** Whether a failure on webgpu came from losing the device (whose promise may settle just after the failing operation). */
async function deviceWasLost(reason: unknown): Promise<boolean> {
  if (reason instanceof DeviceLostError) return true;
  if (backend?.name !== 'webgpu') return false;
  await new Promise((resolve) => setTimeout(resolve, 50));
  return excluded.has('webgpu');
}

async function handleGenerate(id: number, model: string, options: BrowserGenerateOptions): Promise<void> {
  try {
    for (;;) {
      const controller = new AbortController();
      running.set(id, controller);
      try {
        const result = await run(id, model, options, controller.signal);
        post({ id, type: 'result', result }, result.images.map((im) => im.data.buffer as ArrayBuffer));
        return;
      } catch (e) {
        const reason = controller.signal.reason;
        if (reason instanceof DOMException && reason.name === 'AbortError') throw reason; // cancelled
        if (e instanceof ConfigError || !(await deviceWasLost(reason))) throw e;
        const lost = reason instanceof DeviceLostError ? reason : new DeviceLostError(`webgpu: ${excluded.get('webgpu')}`);
        if (init!.backend === 'webgpu') throw lost; // forced: nothing to fall back to
        // Restart on the next backend: ensureBackend picks and reports it, the model reloads from the cache.
        unload();
        discardBackend('webgpu');
      }
    }
  } catch (e) {
    post({ id, type: 'error', error: toErrorRecord(e) });
  } finally {
    running.delete(id);
  }
}

function handle(msg: WorkerInit | Request): void {
  if (msg.type === 'init') {
    init = msg;
    return;
  }
  if (msg.type === 'cancel') {
    running.get(msg.target)?.abort(new DOMException('generation cancelled', 'AbortError'));
    post({ id: msg.id, type: 'done' });
    return;
  }
  // Everything else waits its turn: one tfjs program at a time.
  queue = queue.then(async () => {
    switch (msg.type) {
      case 'generate':
        return handleGenerate(msg.id, msg.model, msg.options);
      case 'memory': {
        const mem = tf.memory();
        return post({
          id: msg.id,
          type: 'memory',
          memory: { backend: (backend?.name ?? null) as BrowserBackendName | null, numTensors: mem.numTensors, numBytes: mem.numBytes, loadedModels: loaded ? 1 : 0 },
        });
      }
      case 'unload':
        unload();
        return post({ id: msg.id, type: 'done' });
    }
  });
}

scope.addEventListener('message', (e) => handle(e.data));
