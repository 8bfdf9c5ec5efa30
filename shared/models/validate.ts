// What input a model takes, checked in one place: by apply() before touching a
// kernel (a wrong shape is a clear error, not a backend's opaque one) and by
// the loader against a checkpoint's declared data shape.
import type * as tf from '@tensorflow/tfjs-core';

export interface InputSpec {
  /** 2: [H, W, C]; 3: [D, H, W, C]. */
  spatialDims: 2 | 3;
  channels: number;
  /** H and W must be multiples of this (2^(levels - 1) for a U-Net). */
  multipleOf: number;
  /** A fixed depth D, for volumes. */
  depth?: number;
  /** A fixed spatial shape ([D, H, W] or [H, W]), for models that take one size only (latent models). */
  shape?: readonly number[];
}

/** Why one example of `shape` ([...spatial, C]) does not fit `spec`, or undefined. */
export function inputProblem(spec: InputSpec, shape: readonly number[]): string | undefined {
  const layout = spec.spatialDims === 2 ? '[H, W, C]' : '[D, H, W, C]';
  if (shape.length !== spec.spatialDims + 1) return `an example must be ${layout}, got [${shape}]`;
  if (shape[shape.length - 1] !== spec.channels) return `needs ${spec.channels} channel(s), got [${shape}]`;
  const [h, w] = shape.slice(-3, -1);
  if (h % spec.multipleOf !== 0 || w % spec.multipleOf !== 0) return `height and width must be multiples of ${spec.multipleOf}, got [${shape}]`;
  if (spec.depth !== undefined && shape[0] !== spec.depth) return `depth must be ${spec.depth} (model.depth), got [${shape}]`;
  if (spec.shape && shape.slice(0, -1).join() !== spec.shape.join()) return `must be [${spec.shape}] x ${spec.channels} channel(s), got [${shape}]`;
  return undefined;
}

/** x: [B, ...example] fitting `spec`; t: [B]. Throws naming the model kind. */
export function checkInput(kind: string, spec: InputSpec, x: tf.Tensor, t: tf.Tensor): void {
  const problem = x.rank < 2 ? `x must have a batch axis, got [${x.shape}]` : inputProblem(spec, x.shape.slice(1));
  if (problem) throw new Error(`${kind}: x: ${problem}`);
  if (t.rank !== 1 || t.shape[0] !== x.shape[0]) throw new Error(`${kind}: t must be [${x.shape[0]}], got shape [${t.shape}]`);
}
