// A model's network calls as ONNX graphs, built from the checkpoint's own
// parameters. The denoiser: inputs x [B, ...input] and each ResBlock's FiLM
// scale and shift [B, C] (the time/label path stays outside the graph: a
// sampler computes it once per grid time, sampler/grid-conditioning.ts),
// output the prediction of x's shape. A latent model's decoder: input the
// codebook-snapped latents, output the images.
import * as tf from '@tensorflow/tfjs-core';
import { hostToParams, paramsToHost } from '../../shared/models/host.ts';
import type { Conditioned, Model, Params } from '../../shared/models/types.ts';
import type { HostTensor, Int8Form } from '../../shared/checkpoint/index.ts';
import { recordGraph, type Recorder } from './record.ts';

export interface NetworkGraph {
  /** The serialised ONNX model. */
  bytes: Uint8Array;
  /** Graph input names: "x", then "scale{i}" / "shift{i}" per ResBlock in the network's order. */
  inputs: string[];
}

/** Feeds names for the FiLM terms of block i. */
export const filmInputs = (i: number) => [`scale${i}`, `shift${i}`] as const;

/** The recorded network's parameters: `host`'s values as graph constants, those in `int8` stored as int8 (DequantizeLinear). */
function constants(r: Recorder, host: Map<string, HostTensor>, int8: ReadonlyMap<string, Int8Form>): Params {
  for (const [name, t] of host) {
    const form = int8.get(name);
    if (form) r.int8(t.data, form);
  }
  return hostToParams(host);
}

/**
 * Records model.apply on x of shape `xShape` ([B, ...spatial, C]). `params`
 * are the loaded tensors (on any tfjs backend); their values become the
 * graph's constants, int8 where `int8` has a parameter's stored form
 * (LoadedModel.int8Weights): the same float32 values after DequantizeLinear.
 */
export function networkGraph(model: Model<unknown>, params: Params, xShape: readonly number[], int8: ReadonlyMap<string, Int8Form> = new Map()): NetworkGraph {
  const batch = xShape[0];
  // The FiLM shapes, from one conditioning computed on the active backend.
  const films = tf.tidy(() => model.condition(params, tf.zeros([batch]) as tf.Tensor1D).map((f) => [f.scale.shape, f.shift.shape]));
  const host = paramsToHost(params);
  const bytes = recordGraph(model.kind, (r) => {
    const recorded = constants(r, host, int8); // on the recording backend: the graph's constants
    const x = r.input('x', [...xShape]);
    const pre: Conditioned = films.map(([scale, shift], i) => ({
      scale: r.input(filmInputs(i)[0], [...scale]) as tf.Tensor2D,
      shift: r.input(filmInputs(i)[1], [...shift]) as tf.Tensor2D,
    }));
    return [model.apply(recorded, x, tf.zeros([batch]) as tf.Tensor1D, undefined, pre)];
  });
  return { bytes, inputs: ['x', ...films.flatMap((_, i) => filmInputs(i))] };
}

/**
 * Records a latent model's decoder network (Model.decode) on codes of shape
 * `codesShape` ([B, ...input]): input "codes", output the images; constants as for networkGraph.
 */
export function decoderGraph(model: Model<unknown>, params: Params, codesShape: readonly number[], int8: ReadonlyMap<string, Int8Form> = new Map()): Uint8Array {
  if (!model.decode) throw new Error(`onnx graph: ${model.kind} has no decoder`);
  const host = paramsToHost(params);
  return recordGraph(`${model.kind}.decoder`, (r) => [model.decode!(constants(r, host, int8), r.input('codes', [...codesShape]))]);
}
