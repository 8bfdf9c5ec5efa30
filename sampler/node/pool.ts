// A pool of sampler threads for Node: tfjs's wasm backend runs one thread
// per instance in Node, so one instance per core is how generation uses every
// core. A request for N images is split into contiguous slices, one per
// thread; image i always draws noise stream i (GenerateOptions.first), so the
// pool returns exactly the images one thread would, in order.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../../shared/config.ts';
import type { BackendName } from '../backend.ts';
import type { GenerateOptions, GenerateProgress, GenerateResult } from '../generate.ts';
import { fromErrorRecord } from '../../shared/error-record.ts';
import type { FromThread, ToThread } from './pool-protocol.ts';

export interface SamplerPool {
  /** Threads in the pool. */
  readonly size: number;
  /** The backend every thread runs. */
  readonly backend: string;
  generate(options: GenerateOptions, hooks?: { onProgress?: (p: GenerateProgress) => void; signal?: AbortSignal }): Promise<GenerateResult>;
  close(): Promise<void>;
}

export interface PoolOptions {
  /** Threads; default one per core (os.availableParallelism()). */
  threads?: number;
  /** Forced backend for every thread (default: Node's order, as selectBackend). */
  backend?: BackendName;
}

// From a checkout the thread runs the TypeScript through tsx (pool-thread-tsx.js); compiled, the JS directly.
const THREAD = import.meta.url.endsWith('.ts') ? new URL('./pool-thread-tsx.js', import.meta.url) : new URL('./pool-thread.js', import.meta.url);

/** [first, count] slices of `count` images over `parts` threads, as equal as possible, none empty. */
export function splitCount(count: number, parts: number): [number, number][] {
  const n = Math.min(parts, count);
  const base = Math.floor(count / n);
  const extra = count % n;
  const out: [number, number][] = [];
  let first = 0;
  for (let k = 0; k < n; k++) {
    const size = base + (k < extra ? 1 : 0);
    out.push([first, size]);
    first += size;
  }
  return out;
}

/** One thread and its calls in flight (ids from 1; the init call is 0). */
class Thread {
  private readonly listeners = new Map<number, (m: FromThread) => void>();
  private nextId = 1;
  private constructor(readonly worker: Worker) {
    worker.on('message', (m: FromThread) => this.listeners.get(m.id)?.(m));
  }

  static start(model: string, backend: BackendName | undefined, nativeThreads: number): Promise<{ thread: Thread; backend: string }> {
    const worker = new Worker(THREAD);
    return new Promise((resolve, reject) => {
      const fail = (e: Error) => {
        void worker.terminate();
        reject(e);
      };
      worker.once('error', fail);
      worker.once('exit', (code) => fail(new Error(`sampler thread exited (code ${code}) while loading ${model}`)));
      worker.once('message', (m: FromThread) => {
        worker.removeAllListeners('error');
        worker.removeAllListeners('exit');
        if (m.id === 0 && m.type === 'result' && 'backend' in m.result) resolve({ thread: new Thread(worker), backend: m.result.backend });
        else fail(m.type === 'error' ? fromErrorRecord(m.error) : new Error(`sampler thread: unexpected reply ${m.type} to init`));
      });
      worker.postMessage({ id: 0, type: 'init', model, backend, nativeThreads } satisfies ToThread);
    });
  }

  run(options: GenerateOptions, onProgress: (p: GenerateProgress) => void, signal?: AbortSignal): Promise<GenerateResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const cancel = () => this.worker.postMessage({ id: this.nextId++, type: 'cancel', target: id } satisfies ToThread);
      const died = (code: number) => finish(() => reject(new Error(`sampler thread exited (code ${code}) during generation`)));
      const finish = (settle: () => void) => {
        this.listeners.delete(id);
        signal?.removeEventListener('abort', cancel);
        this.worker.off('exit', died);
        settle();
      };
      this.listeners.set(id, (m) => {
        if (m.type === 'progress') onProgress(m.progress);
        else if (m.type === 'result') finish(() => resolve(m.result as GenerateResult));
        else if (m.type === 'error') finish(() => reject(fromErrorRecord(m.error)));
      });
      this.worker.on('exit', died);
      signal?.addEventListener('abort', cancel, { once: true });
      this.worker.postMessage({ id, type: 'generate', options } satisfies ToThread);
    });
  }
}

/** Starts `threads` threads, each loading `model` (a folder or URL) once. */
export async function createSamplerPool(model: string, opts: PoolOptions = {}): Promise<SamplerPool> {
  const size = opts.threads ?? availableParallelism();
  if (!Number.isInteger(size) || size < 1 || size > 256) throw new ConfigError('threads', `expected an integer in 1..256, got ${size}`);
  // An engine with native threads (onnxruntime) gets the cores shared out, so the pool does not oversubscribe them.
  const nativeThreads = Math.max(1, Math.floor(availableParallelism() / size));
  const started = await Promise.allSettled(Array.from({ length: size }, () => Thread.start(model, opts.backend, nativeThreads)));
  const threads = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.thread] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(threads.map((t) => t.worker.terminate()));
    throw failed.reason;
  }
  const backend = (started[0] as PromiseFulfilledResult<{ backend: string }>).value.backend;
  let nextThread = 0; // rotates, so concurrent small requests land on different threads
  return {
    size,
    backend,
    async generate(options, hooks = {}) {
      const count = options.count ?? 1;
      const first = options.first ?? 0;
      const slices = splitCount(count, threads.length);
      const start = nextThread;
      nextThread = (nextThread + slices.length) % threads.length;
      // Progress is reported once every thread has said its total (its first step).
      const done = new Array<number>(slices.length).fill(0);
      const totals = new Array<number>(slices.length).fill(0);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const results = await Promise.all(
        slices.map(([offset, n], k) =>
          threads[(start + k) % threads.length].run(
            { ...options, first: first + offset, count: n },
            (p) => {
              done[k] = p.step;
              totals[k] = p.totalSteps;
              if (totals.every((t) => t > 0)) hooks.onProgress?.({ step: sum(done), totalSteps: sum(totals) });
            },
            hooks.signal,
          ),
        ),
      );
      const [head] = results;
      return { images: results.flatMap((r) => r.images), backend: head.backend, sampler: head.sampler, steps: head.steps, seed: head.seed };
    },
    async close() {
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
