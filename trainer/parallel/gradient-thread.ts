// A helper thread of data-parallel training (gradient-threads.ts): its own
// tfjs instance (one wasm instance per thread), the run's network and
// objective, and for each request the gradients of the rows it is sent at
// the parameter values it is sent (batchGradients, as the Trainer's thread).
import { parentPort } from 'node:worker_threads';
import '@tensorflow/tfjs'; // the gradients of tfjs's ops, as trainer.ts
import * as tf from '@tensorflow/tfjs-core';
import { toErrorRecord } from '../../shared/error-record.ts';
import { createModel } from '../../shared/models/index.ts';
import { parseScheduleConfig } from '../../shared/schedules/index.ts';
import { selectBackend } from '../../sampler/backend.ts';
import { batchGradients } from '../gradients.ts';
import { objectiveFor, type Objective } from '../losses/index.ts';
import type { FromThread, ToThread } from './protocol.ts';

const port = parentPort!;
const send = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let run: { objective: Objective; names: string[]; shapes: number[][] } | undefined;

port.on('message', (m: ToThread) => {
  try {
    if (m.type === 'init') {
      void selectBackend(m.backend, { tfjsOnly: true, threads: 1 }).then(
        (chosen) => {
          const model = createModel(m.spec.kind, m.spec.model);
          run = { objective: objectiveFor(m.spec.kind, model, parseScheduleConfig(m.spec.schedule), m.config), names: m.names, shapes: m.shapes };
          send({ type: 'ready', backend: chosen.name });
        },
        (e: unknown) => send({ type: 'error', id: 0, error: toErrorRecord(e) }),
      );
      return;
    }
    const r = run!;
    const params = new Map(r.names.map((n, i) => [n, tf.tensor(m.values[i], r.shapes[i])]));
    try {
      const out = batchGradients(r.objective, r.names, params, m.batch);
      // Copies (a backend may hand out its own storage), so they can be transferred.
      const grads = out.grads.map((g) => (g.dataSync() as Float32Array).slice());
      tf.dispose(out.grads);
      send({ type: 'gradients', id: m.id, loss: out.loss, terms: out.terms, grads }, grads.map((g) => g.buffer as ArrayBuffer));
    } finally {
      tf.dispose([...params.values()]);
    }
  } catch (e) {
    send({ type: 'error', id: m.type === 'gradients' ? m.id : 0, error: toErrorRecord(e) });
  }
});
