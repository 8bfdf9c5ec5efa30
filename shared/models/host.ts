// Parameters between tfjs tensors and host (plain Float32Array) tensors, the
// form the checkpoint format reads and writes.
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '../checkpoint/types.ts';
import type { Params } from './types.ts';

export function paramsToHost(params: Params): Map<string, HostTensor> {
  return new Map([...params].map(([name, t]) => [name, { shape: [...t.shape], data: t.dataSync() as Float32Array }]));
}

export function hostToParams(tensors: Map<string, HostTensor>): Params {
  return new Map([...tensors].map(([name, t]) => [name, tf.tensor(t.data, t.shape, 'float32')]));
}
