// The functional model contract shared by every network in medsynth.
//
// A model is a pure function of a flat parameter map: init(seed) builds the
// map, apply(params, x, t, cond) runs the network. Names in the map are
// stable, dot-separated paths ("down.0.res.1.conv1.w") that the checkpoint
// format stores verbatim.
import type * as tf from '@tensorflow/tfjs-core';
import type { InputSpec } from './validate.ts';

/**
 * normal: N(0, 1/fanIn) (LeCun), keeps activations O(1) through the network;
 * zeros: residual-branch outputs and final layers (Goyal et al. 2017, Ho et al. 2020), so
 * an untrained block is the identity; ones: normalisation gains.
 */
export type InitKind = 'normal' | 'zeros' | 'ones';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitKind;
  /** Inputs feeding one output unit (for 'normal'). */
  fanIn: number;
}

/** FiLM conditioning (Perez et al. 2018) applied after a norm: y (1 + scale) + shift, scale and shift [B, C]. */
export interface Film {
  scale: tf.Tensor2D;
  shift: tf.Tensor2D;
}

/** name -> tensor. A Map, never an object, so no name can reach a prototype. */
export type Params = Map<string, tf.Tensor>;

export interface Conditioning {
  /** [B] int32 class labels; the null label (= numClasses) means "unconditional". */
  label?: tf.Tensor1D;
}

/**
 * What a network derives from (t, label) alone: each ResBlock's FiLM scale
 * and shift [B, C], in the network's order. Computed by Model.condition and
 * passed to apply, so a sampler can compute them once per grid time.
 */
export type Conditioned = readonly Film[];

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
   * owns the result; every intermediate is disposed. With `pre` (condition()'s
   * result for the same t and labels) the time and label path is skipped.
   */
  apply(params: Params, x: tf.Tensor, t: tf.Tensor1D, cond?: Conditioning, pre?: Conditioned): tf.Tensor;
  /** t [B] and labels [B] -> the conditioning apply would derive from them. The caller owns the result. */
  condition(params: Params, t: tf.Tensor1D, cond?: Conditioning): Conditioned;
  /**
   * Latent models only, the two halves of turning sampled latents
   * [B, ...input] into images [B, ...output] in model space (about [-1, 1];
   * unclipped): toCodes unscales the latents and snaps them to the codebook
   * (it reads values, so it stays on tfjs); decode runs the decoder network
   * on its result, a pure network call that an engine outside tfjs may run
   * (sampler/network-engine.ts). The caller owns each result.
   */
  toCodes?(params: Params, latents: tf.Tensor): tf.Tensor;
  decode?(params: Params, codes: tf.Tensor): tf.Tensor;
}
