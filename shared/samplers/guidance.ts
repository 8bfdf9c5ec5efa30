// Classifier-free guidance (Ho and Salimans 2022): one batched network call on
// [x; x] with [labels; null labels], then out = out_u + w (out_c - out_u).
// Combining raw outputs is the same as combining eps: every parameterisation
// (eps, x0, v) is affine in the output with coefficients shared by both halves.
import * as tf from '@tensorflow/tfjs-core';

/** A network call on x [B, ...] with one class label per example (asynchronous on an engine outside tfjs). */
export type LabelledNet = (x: tf.Tensor, labels: readonly number[]) => tf.Tensor | Promise<tf.Tensor>;

export async function guidedOutput(net: LabelledNet, x: tf.Tensor, labels: readonly number[], nullLabel: number, w: number): Promise<tf.Tensor> {
  if (w === 1) return net(x, labels);
  const doubled = tf.concat([x, x], 0);
  let both: tf.Tensor;
  try {
    both = await net(doubled, [...labels, ...labels.map(() => nullLabel)]);
  } finally {
    doubled.dispose();
  }
  try {
    return tf.tidy(() => {
      const [cond, uncond] = tf.split(both, 2, 0);
      return tf.add(uncond, tf.mul(tf.sub(cond, uncond), w));
    });
  } finally {
    both.dispose();
  }
}
