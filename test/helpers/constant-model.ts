// A "network" whose output is known (c everywhere), for testing losses by hand.
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../shared/models/types.ts';

/** Predicts `c` everywhere and records each call's inputs. */
export function constantModel(c: number, seen: { x: number[]; t: number[] }[] = []): Model<unknown> {
  return {
    kind: 'constant',
    config: {},
    paramSpecs: [],
    input: { spatialDims: 2, channels: 1, multipleOf: 1 },
    init: () => new Map(),
    condition: () => [],
    apply: (_p, x, t) => {
      seen.push({ x: Array.from(x.dataSync()), t: Array.from(t.dataSync()) });
      return tf.fill(x.shape, c);
    },
  };
}
