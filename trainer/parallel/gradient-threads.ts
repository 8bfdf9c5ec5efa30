// Data-parallel training on one machine: tfjs's wasm backend runs one thread
// per instance in Node, so helper threads, each with its own instance, take
// rows of every batch (gradient-thread.ts) while the Trainer's thread takes
// the first rows; the Trainer weights each part's gradients by its share of
// the rows (gradients.ts), which is the one-thread gradient up to rounding.
import { Worker } from 'node:worker_threads';
import { fromErrorRecord } from '../../shared/error-record.ts';
import type { Params } from '../../shared/models/types.ts';
import type { BackendName } from '../../sampler/backend.ts';
import type { TrainConfig } from '../config.ts';
import type { HostBatch } from '../gradients.ts';
import type { FromThread, NetworkSpec, ToThread } from './protocol.ts';

// From a checkout the thread runs the TypeScript through tsx (gradient-thread-tsx.js); compiled, the JS directly.
const THREAD = import.meta.url.endsWith('.ts') ? new URL('./gradient-thread-tsx.js', import.meta.url) : new URL('./gradient-thread.js', import.meta.url);

/** One helper's answer: the loss, terms and gradients (host arrays, in the parameters' order) of its rows. */
export interface ThreadGradients {
  loss: number;
  terms?: number[];
  grads: Float32Array[];
}

class Helper {
  private readonly pending = new Map<number, { resolve: (g: ThreadGradients) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.type === 'error') p?.reject(fromErrorRecord(m.error));
      else p?.resolve({ loss: m.loss, terms: m.terms, grads: m.grads });
    });
    worker.on('exit', (code) => {
      this.exited = new Error(`gradient thread exited (code ${code})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  gradients(values: Float32Array[], batch: HostBatch): Promise<ThreadGradients> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'gradients', id, values, batch } satisfies ToThread);
    });
  }
}

export class GradientThreads {
  private constructor(private readonly helpers: Helper[]) {}

  /** Helper threads besides the caller's. */
  get size(): number {
    return this.helpers.length;
  }

  /** Starts `count` helper threads on `backend`, each building the run's network and objective. */
  static async start(count: number, spec: NetworkSpec, config: TrainConfig, backend: BackendName, params: Params): Promise<GradientThreads> {
    const names = [...params.keys()];
    const shapes = names.map((n) => params.get(n)!.shape);
    const started = await Promise.allSettled(
      Array.from({ length: count }, () => {
        const worker = new Worker(THREAD);
        return new Promise<Worker>((resolve, reject) => {
          const fail = (e: Error) => {
            void worker.terminate();
            reject(e);
          };
          worker.once('error', fail);
          worker.once('exit', (code) => fail(new Error(`gradient thread exited (code ${code}) while starting`)));
          worker.once('message', (m: FromThread) => {
            worker.removeAllListeners('error');
            worker.removeAllListeners('exit');
            if (m.type === 'ready') resolve(worker);
            else fail(m.type === 'error' ? fromErrorRecord(m.error) : new Error(`gradient thread: unexpected reply ${m.type} to init`));
          });
          worker.postMessage({ type: 'init', spec, config, backend, names, shapes } satisfies ToThread);
        });
      }),
    );
    const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw failed.reason;
    }
    return new GradientThreads(workers.map((w) => new Helper(w)));
  }

  /** Sends helper k its rows; `values` are the current parameters in start()'s order. */
  gradients(k: number, values: Float32Array[], batch: HostBatch): Promise<ThreadGradients> {
    return this.helpers[k].gradients(values, batch);
  }

  async close(): Promise<void> {
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
  }
}

/** Host copies of the parameters in `names`' order, for the helpers. */
export function parameterValues(params: Params, names: readonly string[]): Float32Array[] {
  return names.map((n) => params.get(n)!.dataSync() as Float32Array);
}
