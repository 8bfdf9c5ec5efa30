// The functional model contract shared by every network in medsynth.
//
// A model is a pure function of a flat parameter map: init(seed) builds the
// map, apply(params, x, t, cond) runs the network. Names in the map are
// stable, dot-separated paths ("down.0.res.1.conv1.w") that the checkpoint
// format stores verbatim.
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamSpec } from './params.ts';
import type { InputSpec } from './validate.ts';

/** name -> tensor. A Map, never an object, so no name can reach a prototype. */
export type Params = Map<string, tf.Tensor>;

export interface Conditioning {
  /** [B] int32 class labels; the null label (= numClasses) means "unconditional". */
  label?: tf.Tensor1D;
}

export interface Model<C> {
  readonly kind: string;
  readonly config: C;
  /** Every parameter the config implies: name, shape, initialiser (no tensors allocated). */
  readonly paramSpecs: readonly ParamSpec[];
  /** The example shape it takes (checked by apply; noise is drawn in it). */
  readonly input: InputSpec;
  /**
   * Latent models: the image shape decode() returns, which a checkpoint's
   * `data.shape` must fit (for other models, `input` is the image shape).
   */
  readonly output?: InputSpec;
  /** Fresh parameters from a seed (deterministic: same seed, same values on every backend). */
  init(seed: number): Params;
  /**
   * x: [B, H, W, C] (2D) or [B, D, H, W, C] (3D), t: [B] float32 network time
   * input in [0, 1]. Returns a tensor of x's shape (the prediction). The caller
   * owns the result; every intermediate is disposed.
   */
  apply(params: Params, x: tf.Tensor, t: tf.Tensor1D, cond?: Conditioning): tf.Tensor;
  /**
   * Latent models only: sampled latents [B, ...input] -> images [B, ...output]
   * in model space (about [-1, 1]; unclipped). The caller owns the result.
   */
  decode?(params: Params, latents: tf.Tensor): tf.Tensor;
}
