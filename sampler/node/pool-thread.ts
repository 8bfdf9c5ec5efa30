// One thread of the sampler pool (pool.ts): loads the model once on its own
// backend (one wasm instance per thread), then generates the slices of
// requests it is sent, streaming progress back.
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { toErrorRecord } from '../../shared/error-record.ts';
import { selectBackend, type BackendName } from '../backend.ts';
import { generate, type GenerateOptions } from '../generate.ts';
import { loadModel, type LoadedModel } from '../load.ts';
import type { ToThread, FromThread } from './pool-protocol.ts';

const port = parentPort!;
const send = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let model: LoadedModel | undefined;
const running = new Map<number, AbortController>();

async function init(id: number, source: string, backend: BackendName | undefined, threads: number): Promise<void> {
  tf.enableProdMode();
  const chosen = await selectBackend(backend, { threads });
  model = await loadModel(source);
  send({ id, type: 'result', result: { backend: chosen.name } });
}

async function run(id: number, options: GenerateOptions): Promise<void> {
  const ctrl = new AbortController();
  running.set(id, ctrl);
  try {
    const result = await generate(model!, options, { signal: ctrl.signal, onProgress: (progress) => send({ id, type: 'progress', progress }) });
    send({ id, type: 'result', result }, result.images.map((im) => im.data.buffer as ArrayBuffer));
  } finally {
    running.delete(id);
  }
}

port.on('message', (m: ToThread) => {
  const fail = (e: unknown) => send({ id: m.id, type: 'error', error: toErrorRecord(e) });
  if (m.type === 'init') init(m.id, m.model, m.backend, m.nativeThreads).catch(fail);
  else if (m.type === 'generate') run(m.id, m.options).catch(fail);
  else if (m.type === 'cancel') {
    running.get(m.target)?.abort();
    send({ id: m.id, type: 'done' });
  }
});
