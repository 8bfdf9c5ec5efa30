// Classifier-free guidance (Ho and Salimans 2022): one batched network call on
// [x; x] with [labels; null labels], then out = out_u + w (out_c - out_u).
// Combining raw outputs is the same as combining eps: every parameterisation
// (eps, x0, v) is affine in the output with coefficients shared by both halves.
import * as tf from '@tensorflow/tfjs-core';

export type LabelledNet = (x: tf.Tensor, label: tf.Tensor1D) => tf.Tensor;

export function guidedOutput(net: LabelledNet, x: tf.Tensor, label: tf.Tensor1D, nullLabel: number, w: number): tf.Tensor {
  if (w === 1) return net(x, label);
  return tf.tidy(() => {
    const b = x.shape[0];
    const both = net(tf.concat([x, x], 0), tf.concat([label, tf.fill([b], nullLabel, 'int32')]) as tf.Tensor1D);
    const [cond, uncond] = tf.split(both, 2, 0);
    return tf.add(uncond, tf.mul(tf.sub(cond, uncond), w));
  });
}
