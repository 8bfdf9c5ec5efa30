// Vector quantisation against a codebook e [K, E] (van den Oord et al. 2017):
// the nearest entry by Euclidean distance, and the straight-through estimator.
// The codebook itself is learned by EMA in trainer/vqgan/codebook-ema.ts.
import * as tf from '@tensorflow/tfjs-core';

/** Distance rows per chunk are capped so one [rows, K] block stays ~16 MiB (K = 16384 codes would otherwise need GiBs). */
const MAX_DISTANCES = 2 ** 22;

/**
 * argmin_k ||z_m - e_k||^2 for each row of z [M, E], codebook e [K, E]. The
 * ||z_m||^2 term is the same for every k and dropped:
 * d_mk = ||e_k||^2 - 2 z_m . e_k. Ties go to the lowest index.
 */
export function nearestCodes(codebook: tf.Tensor2D, z: tf.Tensor2D): Int32Array {
  const [m] = z.shape;
  const k = codebook.shape[0];
  const out = new Int32Array(m);
  const rows = Math.max(1, Math.floor(MAX_DISTANCES / k));
  const eT = tf.transpose(codebook); // [E, K]: an untransposed matMul, wasm's fast path (DESIGN §5)
  const eNorm = tf.tidy(() => tf.sum(tf.square(eT), 0, true)); // [1, K]
  try {
    for (let start = 0; start < m; start += rows) {
      const n = Math.min(rows, m - start);
      const idx = tf.tidy(() => tf.argMin(tf.sub(eNorm, tf.mul(tf.matMul(tf.slice(z, [start, 0], [n, -1]), eT), 2)), 1));
      out.set(idx.dataSync() as Int32Array, start);
      idx.dispose();
    }
  } finally {
    tf.dispose([eT, eNorm]);
  }
  return out;
}

/** The codebook rows for `indices`, shaped [...shape, E]. */
export function lookupCodes(codebook: tf.Tensor2D, indices: Int32Array, shape: number[]): tf.Tensor {
  return tf.tidy(() => tf.reshape(tf.gather(codebook, tf.tensor1d(indices, 'int32')), [...shape, codebook.shape[1]]));
}

/**
 * z [..., E] -> its nearest codebook entries zq (same shape; no gradient
 * path: the codebook learns by EMA) and their indices [prod(...)].
 */
export function quantize(codebook: tf.Tensor2D, z: tf.Tensor): { zq: tf.Tensor; indices: Int32Array } {
  const e = codebook.shape[1];
  if (z.shape[z.rank - 1] !== e) throw new Error(`quantize: latents have width ${z.shape[z.rank - 1]}, the codebook ${e}`);
  const flat = tf.reshape(z, [-1, e]) as tf.Tensor2D;
  const indices = nearestCodes(codebook, flat);
  flat.dispose();
  return { zq: lookupCodes(codebook, indices, z.shape.slice(0, -1)), indices };
}

/**
 * The straight-through estimator z + sg(zq - z) (van den Oord et al. 2017,
 * eq. 3 context): forward value zq, backward the identity to z, nothing to zq.
 */
export function straightThrough(z: tf.Tensor, zq: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((_z, qq) => ({
    value: tf.clone(qq as tf.Tensor),
    gradFunc: (dy) => [tf.clone(dy as tf.Tensor), tf.zerosLike(dy as tf.Tensor)],
  }));
  return op(z, zq);
}
