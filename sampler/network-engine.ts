// Which engine runs generate()'s network calls (the denoiser, and a latent
// model's decoder). By default tfjs, on its active
// backend; a backend selection may install another (Node's onnxruntime
// candidate, sampler/onnx/engine.ts). Only the network calls move: noise,
// samplers, guidance and the codebook snap stay on tfjs, shared by every engine.
import * as tf from '@tensorflow/tfjs-core';
import type { Conditioning } from '../shared/models/types.ts';
import type { Net } from '../shared/samplers/index.ts';
import type { GridConditioning } from './grid-conditioning.ts';
import type { LoadedModel } from './load.ts';

export interface NetworkEngine {
  /** Reported as the generation's backend. */
  readonly name: string;
  /** m's network as a Net, taking each call's time/label path from `conditioning` where the grid has it. */
  net(m: LoadedModel, conditioning: GridConditioning): Net;
  /** A latent model's decoder network: codes (Model.toCodes) [B, ...input] -> images [B, ...output]; the caller owns the result. */
  decoder(m: LoadedModel): (codes: tf.Tensor) => tf.Tensor | Promise<tf.Tensor>;
}

/** A Net call's time and labels as the model takes them: t [B] and label [B] (the caller frees them). */
export function callInputs(batch: number, t: number, labels?: readonly number[]): { t: tf.Tensor1D; cond?: Conditioning } {
  return { t: tf.fill([batch], t) as tf.Tensor1D, ...(labels ? { cond: { label: tf.tensor1d(Array.from(labels), 'int32') } } : {}) };
}

/** The network on the active tfjs backend. */
const tfjsEngine: NetworkEngine = {
  get name() {
    return tf.getBackend();
  },
  net: (m, conditioning) => (x, t, labels) =>
    tf.tidy(() => {
      const inputs = callInputs(x.shape[0], t, labels);
      return m.model.apply(m.params, x, inputs.t, inputs.cond, conditioning.get(t, x.shape[0], labels));
    }),
  decoder: (m) => (codes) => m.model.decode!(m.params, codes),
};

let installed: NetworkEngine | undefined;

/** Installs `engine` for the network calls that follow (undefined: back to tfjs). */
export function useNetworkEngine(engine: NetworkEngine | undefined): void {
  installed = engine;
}

export function networkEngine(): NetworkEngine {
  return installed ?? tfjsEngine;
}
