// One batch's loss and parameter gradients from its host form: the single
// computation that the Trainer's own thread and its helper threads
// (parallel/) run. The loss is a mean over the batch's examples, so the rows
// of a batch split between threads give, weighted by their share of the
// rows, the gradient one thread computes for the whole batch (up to float
// rounding).
import * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../shared/models/types.ts';
import { sliceDraws, type Draws, type Objective } from './losses/objective.ts';

/** A training batch on the host: examples x [B, ...], labels [B] after dropout, and the objective's draws for it. */
export interface HostBatch {
  /** [B, ...example shape]. */
  shape: number[];
  x: Float32Array;
  labels?: Int32Array;
  draws: Draws;
}

/** Rows [from, to) of a batch. */
export function batchRows(b: HostBatch, from: number, to: number): HostBatch {
  const per = b.x.length / b.shape[0];
  return {
    shape: [to - from, ...b.shape.slice(1)],
    x: b.x.subarray(from * per, to * per),
    ...(b.labels ? { labels: b.labels.subarray(from, to) } : {}),
    draws: sliceDraws(b.draws, b.shape[0], from, to),
  };
}

export interface BatchGradients {
  loss: number;
  /** The objective's named terms, when it has them. */
  terms?: number[];
  /** d loss / d params[names[i]], in `names`' order (the caller owns them). */
  grads: tf.Tensor[];
}

export function batchGradients(objective: Objective, names: readonly string[], params: Params, batch: HostBatch): BatchGradients {
  const x = tf.tensor(batch.x, batch.shape);
  const label = batch.labels ? tf.tensor1d(batch.labels, 'int32') : undefined;
  let terms: tf.Tensor1D | undefined;
  try {
    const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
      const out = objective.loss(new Map(names.map((n, i) => [n, ps[i]])), x, label, batch.draws);
      terms = out.terms ? tf.keep(out.terms) : undefined;
      return out.loss;
    })(names.map((n) => params.get(n)!));
    const loss = value.dataSync()[0];
    value.dispose();
    return { loss, ...(terms ? { terms: Array.from(terms.dataSync()) } : {}), grads };
  } finally {
    tf.dispose([x, label, terms]);
  }
}
