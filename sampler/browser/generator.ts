// createGenerator(): the page's handle on a generation worker. Generation,
// model loading and backend selection all run in the worker, so the page
// stays responsive; images come back as transferred Float32Arrays.
import { fromErrorRecord } from '../../shared/error-record.ts';
import { BROWSER_BACKENDS, type BrowserBackendName, type BrowserGenerateOptions, type BrowserGenerateResult, type MemoryReport, type Progress, type Reply, type Request, type WorkerInit } from './protocol.ts';
import { clearCache, isCached, modelBase } from './cache-store.ts';

export interface GeneratorOptions {
  /** The checkpoint's URL prefix, e.g. "https://host/v1/models/default" (relative URLs resolve against the page). */
  model: string;
  /** Forces a backend; by default webgpu, then wasm, then cpu: the first that passes the self-test. */
  backend?: BrowserBackendName;
  /** Base URL of the bundle's files (worker script, .wasm); default: where this module was loaded from. */
  assets?: string;
  /** The worker script; default `${assets}medsynth-worker.js`. */
  workerUrl?: string;
}

export interface GenerateHooks {
  onProgress?: (p: Progress) => void;
  /** Aborting rejects with an AbortError; the worker frees every tensor of the run. */
  signal?: AbortSignal;
}

export interface Generator {
  /** The model's absolute URL prefix. */
  readonly model: string;
  generate(options?: BrowserGenerateOptions, hooks?: GenerateHooks): Promise<BrowserGenerateResult>;
  /** Whether every shard of the model is in the Cache API. */
  isCached(): Promise<boolean>;
  /** Removes the model's cached files; resolves to how many went. */
  clearCache(): Promise<number>;
  /** tfjs memory in the worker (tensors of the kept model included). */
  memory(): Promise<MemoryReport>;
  /** Frees the kept model (the next generate loads it again, from the cache). */
  unload(): Promise<void>;
  /** Ends the worker and everything it holds; pending calls reject. */
  dispose(): void;
}

/** The folder this module was loaded from: the bundle's other files sit beside it. */
const DEFAULT_ASSETS = new URL('./', import.meta.url).href;


/**
 * A same-origin worker script loads directly; one on another origin (the
 * bundle embedded from a CDN or another server) through a same-origin blob
 * that imports it, since browsers only start workers from their own origin.
 */
function startWorker(url: string): { worker: Worker; release: () => void } {
  const target = new URL(url, location.href);
  if (target.origin === location.origin) return { worker: new Worker(target), release: () => {} };
  const shim = new Blob([`importScripts(${JSON.stringify(target.href)});`], { type: 'text/javascript' });
  const blobUrl = URL.createObjectURL(shim);
  return { worker: new Worker(blobUrl), release: () => URL.revokeObjectURL(blobUrl) };
}

/** A request before it is given an id (Omit that distributes over the union). */
type Unsent = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

type Pending = { resolve: (r: Reply) => void; reject: (e: Error) => void; onProgress?: (p: Progress) => void };

export function createGenerator(opts: GeneratorOptions): Generator {
  if (opts.backend !== undefined && !(BROWSER_BACKENDS as readonly string[]).includes(opts.backend)) {
    throw new Error(`backend must be one of ${BROWSER_BACKENDS.join(', ')}; got "${opts.backend}"`);
  }
  const model = modelBase(opts.model);
  const assets = new URL(opts.assets ?? DEFAULT_ASSETS, location.href).href.replace(/\/?$/, '/');
  const { worker, release } = startWorker(opts.workerUrl ?? `${assets}medsynth-worker.js`);
  const init: WorkerInit = { type: 'init', assets, ...(opts.backend ? { backend: opts.backend } : {}) };
  worker.postMessage(init);

  const pending = new Map<number, Pending>();
  let nextId = 1;
  let disposed = false;
  const failAll = (e: Error) => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.addEventListener('message', (e: MessageEvent<Reply>) => {
    const reply = e.data;
    const p = pending.get(reply.id);
    if (!p) return;
    if (reply.type === 'progress') return p.onProgress?.(reply.progress);
    pending.delete(reply.id);
    if (reply.type === 'error') p.reject(fromErrorRecord(reply.error));
    else p.resolve(reply);
  });
  worker.addEventListener('error', (e) => failAll(new Error(`the generation worker failed: ${e.message || 'could not load it'}`)));

  const call = <T extends Reply['type']>(req: Unsent, onProgress?: (p: Progress) => void): { id: number; done: Promise<Extract<Reply, { type: T }>> } => {
    if (disposed) throw new Error('this generator was disposed');
    const id = nextId++;
    const done = new Promise<Extract<Reply, { type: T }>>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (r: Reply) => void, reject, onProgress });
    });
    worker.postMessage({ ...req, id } as Request);
    return { id, done };
  };

  return {
    model,
    async generate(options = {}, hooks = {}) {
      hooks.signal?.throwIfAborted();
      const { id, done } = call<'result'>({ type: 'generate', model, options }, hooks.onProgress);
      const cancel = () => {
        if (!disposed) worker.postMessage({ type: 'cancel', id: nextId++, target: id } satisfies Request);
      };
      hooks.signal?.addEventListener('abort', cancel, { once: true });
      try {
        return (await done).result;
      } finally {
        hooks.signal?.removeEventListener('abort', cancel);
      }
    },
    isCached: () => isCached(model),
    clearCache: () => clearCache(model),
    async memory() {
      return (await call<'memory'>({ type: 'memory' }).done).memory;
    },
    async unload() {
      await call<'done'>({ type: 'unload' }).done;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      worker.terminate();
      release();
      failAll(new DOMException('the generator was disposed', 'AbortError'));
    },
  };
}
