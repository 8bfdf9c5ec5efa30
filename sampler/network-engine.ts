// Which engine runs generate()'s network calls (the denoiser, and a latent
// model's decoder). By default tfjs, on its active
// backend; a backend selection may install another (Node's onnxruntime
// candidate, sampler/onnx/engine.ts). Only the network calls move: noise,
// samplers, guidance and the codebook snap stay on tfjs, shared by every engine.
import * as tf from '@tensorflow/tfjs-core';
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

/** The network on the active tfjs backend. */
const tfjsEngine: NetworkEngine = {
  get name() {
    return tf.getBackend();
  },
  net: (m, conditioning) => (x, t, labels) =>
    tf.tidy(() => {
      const tt = tf.fill([x.shape[0]], t) as tf.Tensor1D;
      const label = labels ? tf.tensor1d(Array.from(labels), 'int32') : undefined;
      return m.model.apply(m.params, x, tt, label ? { label } : undefined, conditioning.get(t, x.shape[0], labels));
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
