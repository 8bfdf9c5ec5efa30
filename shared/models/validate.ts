// Input checks every model's apply() makes before touching a kernel, so a
// wrong shape is a clear error rather than a backend's opaque one.
import type * as tf from '@tensorflow/tfjs-core';

/** x: rank `rank` with `channels` last; t: [B] matching x's batch. */
export function checkInput(kind: string, x: tf.Tensor, t: tf.Tensor, rank: number, channels: number): void {
  const layout = rank === 4 ? '[B, H, W, C]' : '[B, D, H, W, C]';
  if (x.rank !== rank) throw new Error(`${kind}: x must be ${layout}, got shape [${x.shape}]`);
  if (x.shape[rank - 1] !== channels) throw new Error(`${kind}: x must have ${channels} channel(s), got shape [${x.shape}]`);
  if (t.rank !== 1 || t.shape[0] !== x.shape[0]) throw new Error(`${kind}: t must be [${x.shape[0]}], got shape [${t.shape}]`);
}
