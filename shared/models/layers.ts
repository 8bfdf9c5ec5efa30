// The building blocks every network shares, written against DESIGN §5: only
// ops that are fast and correct on the cpu and wasm backends (conv2d,
// untransposed matMul, reshapes), never conv3d, rank >= 7 broadcasts or
// batched transposed matMul.
//
// Each function reads its parameters by the names ParamList declares and
// returns a new tensor; callers wrap blocks in tf.tidy.
import * as tf from '@tensorflow/tfjs-core';
import { param, ParamList } from './params.ts';
import type { Params } from './types.ts';

/** 'same' padding as TensorFlow computes it: [before, after] along one axis. */
function samePadding(size: number, k: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + k - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * dL/dW of a 'same' conv2d from forward convolutions only (wasm has no
 * Conv2DBackpropFilter kernel, DESIGN §5): dW[a, b, ci, co] =
 * sum_{n,i,j} xpad[n, i s + a, j s + b, ci] dy[n, i, j, co], which is a conv2d
 * of xpad with channels and batch swapped, by dy as a filter dilated by s.
 */
function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, stride: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const xpad = tf.pad(x, [[0, 0], samePadding(h, k, stride), samePadding(w, k, stride), [0, 0]]);
    const input = tf.transpose(xpad, [3, 1, 2, 0]); // [Cin, Hp, Wp, N]
    const filter = tf.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, Cout]
    const out = tf.conv2d(input, filter, 1, 'valid', 'NHWC', stride); // [Cin, >= k, >= k, Cout]
    return tf.transpose(tf.slice(out, [0, 0, 0, 0], [-1, k, k, -1]), [1, 2, 0, 3]); // [k, k, Cin, Cout]
  });
}

/**
 * dL/dx of a 'same' conv2d. For stride 1 and an odd kernel the padding is
 * symmetric, so the adjoint is the forward conv2d with the kernel rotated by
 * 180 degrees and its in/out channels swapped: wasm runs that in XNNPACK,
 * while its Conv2DBackpropInput is a scalar loop (measured: 3.5 against
 * ~20 GFLOP/s, 60% of a training step). Strided convs keep the kernel.
 */
function conv2dInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], stride: number): tf.Tensor4D {
  const [kh, kw] = w.shape;
  if (stride === 1 && kh % 2 === 1 && kw % 2 === 1) {
    return tf.tidy(() => tf.conv2d(dy, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, 'same'));
  }
  return tf.conv2dTranspose(dy, w, xShape, stride, 'same');
}

/** tf.conv2d ('same') with gradients every backend can run, fast on wasm. */
function conv2dSame(x: tf.Tensor4D, w: tf.Tensor4D, stride: number): tf.Tensor4D {
  const op = tf.customGrad((xx, ww, save) => {
    (save as tf.GradSaveFunc)([xx as tf.Tensor, ww as tf.Tensor]);
    return {
      value: tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, 'same'),
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [conv2dInputGrad(dy as tf.Tensor4D, ws, xs.shape, stride), conv2dFilterGrad(xs, dy as tf.Tensor4D, ws.shape[0], stride)];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/** k x k 'same' convolution over [N, H, W, Cin] -> [N, H/stride, W/stride, Cout]. */
export function conv2d(params: Params, name: string, x: tf.Tensor4D, stride: 1 | 2 = 1): tf.Tensor4D {
  const w = param(params, `${name}.w`) as tf.Tensor4D;
  return tf.add(conv2dSame(x, w, stride), param(params, `${name}.b`));
}

/** x [N, Cin] -> [N, Cout]. */
export function dense(params: Params, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, param(params, `${name}.w`) as tf.Tensor2D), param(params, `${name}.b`));
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * GroupNorm (Wu and He 2018) over every position of each sample: x [B, ..., C]
 * is viewed as [B, N, G, C/G] and normalised over N and C/G.
 */
export function groupNorm(params: Params, name: string, x: tf.Tensor, groups: number, eps = 1e-5): tf.Tensor {
  const shape = x.shape;
  const c = shape[shape.length - 1];
  const grouped = tf.reshape(x, [shape[0], -1, groups, c / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 3], true);
  const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, eps))), shape);
  return tf.add(tf.mul(normed, param(params, `${name}.g`)), param(params, `${name}.b`));
}

/**
 * Sinusoidal embedding of t [B] (Vaswani et al. 2017; DDPM's timestep
 * embedding): t is scaled by 1000 so a [0, 1] time spans the same frequencies
 * as DDPM's integer steps. Returns [B, dim] = [sin(t f_i) | cos(t f_i)].
 */
export function timeEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / Math.max(half - 1, 1)));
  const args = tf.mul(tf.reshape(tf.mul(t, 1000), [-1, 1]), tf.tensor2d(freqs, [1, half])); // [B, half]
  return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
}

/**
 * Nearest-neighbour 2x upsampling by reshape and tile (no resize op: its
 * gradient is wrong on wasm). tfjs has no rank-6 tile gradient, so the
 * gradient is given: each input pixel receives the sum over its 2x2 block.
 */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const op = tf.customGrad((xx) => ({
    value: tf.reshape(tf.tile(tf.reshape(xx as tf.Tensor, [n, h, 1, w, 1, c]), [1, 1, 2, 1, 2, 1]), [n, 2 * h, 2 * w, c]), // [N, H, 2, W, 2, C] -> [N, 2H, 2W, C]
    gradFunc: (dy) => tf.sum(tf.reshape(dy, [n, h, 2, w, 2, c]), [2, 4]),
  }));
  return op(x) as tf.Tensor4D;
}

/**
 * rows[index[i]] for each i, as a one-hot matMul: differentiable on every
 * backend (gather's gradient needs UnsortedSegmentSum, missing on wasm).
 * table [K, E], index [B] int32 -> [B, E].
 */
export function lookup(table: tf.Tensor2D, index: tf.Tensor1D): tf.Tensor2D {
  return tf.matMul(tf.oneHot(tf.cast(index, 'int32'), table.shape[0]), table);
}

// ---------------------------------------------------------------------------
// Conditioning: a time embedding plus an optional class embedding.

/** Declares `${name}.dense0/1` (and `${name}.class` with a null row when numClasses > 0). */
export function declareConditioning(p: ParamList, name: string, baseDim: number, embedDim: number, numClasses: number): void {
  p.dense(`${name}.dense0`, baseDim, embedDim);
  p.dense(`${name}.dense1`, embedDim, embedDim);
  // Row numClasses is the null label of classifier-free guidance (Ho and Salimans 2022).
  if (numClasses > 0) p.add(`${name}.class`, [numClasses + 1, embedDim], 'normal', 1);
}

/**
 * The conditioning vector [B, E]: MLP(sinusoid(t)) + class embedding. A
 * conditional model given no label uses the null label; an unconditional one
 * given a label is a caller error.
 */
export function conditioning(
  params: Params,
  name: string,
  t: tf.Tensor1D,
  baseDim: number,
  numClasses: number,
  label: tf.Tensor1D | undefined,
): tf.Tensor2D {
  let emb = dense(params, `${name}.dense1`, silu(dense(params, `${name}.dense0`, timeEmbedding(t, baseDim))) as tf.Tensor2D);
  emb = silu(emb) as tf.Tensor2D;
  if (numClasses === 0) {
    if (label !== undefined) throw new Error('cond.label: this model is not class-conditional');
    return emb;
  }
  const labels = label ?? (tf.fill([t.shape[0]], numClasses, 'int32') as tf.Tensor1D);
  if (labels.shape[0] !== t.shape[0]) throw new Error(`cond.label: expected ${t.shape[0]} labels, got ${labels.shape[0]}`);
  return tf.add(emb, lookup(param(params, `${name}.class`) as tf.Tensor2D, labels));
}

// ---------------------------------------------------------------------------
// ResBlock with FiLM / scale-shift conditioning (Dhariwal and Nichol 2021, §3; Perez et al. 2018).

export function declareResBlock(p: ParamList, name: string, cin: number, cout: number, embedDim: number): void {
  p.norm(`${name}.norm1`, cin);
  p.conv(`${name}.conv1`, 3, cin, cout);
  p.dense(`${name}.film`, embedDim, 2 * cout);
  p.norm(`${name}.norm2`, cout);
  p.conv(`${name}.conv2`, 3, cout, cout, true);
  if (cin !== cout) p.conv(`${name}.skip`, 1, cin, cout);
}

/**
 * h = conv1(SiLU(GN(x))); h = GN(h) (1 + scale) + shift with (scale, shift)
 * from the conditioning vector; out = skip(x) + conv2(SiLU(h)).
 * x [N, H, W, Cin] where N = B * perSample (3D volumes pass depth slices as
 * batch; GroupNorm still normalises over the whole volume of each sample);
 * emb [B, E]. Returns [N, H, W, Cout].
 */
export function resBlock(
  params: Params,
  name: string,
  x: tf.Tensor4D,
  emb: tf.Tensor2D,
  groups: number,
  perSample = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, hgt, wid] = x.shape;
    const b = n / perSample;
    const cout = param(params, `${name}.conv1.b`).shape[0];
    const perVolume = (t: tf.Tensor4D) => tf.reshape(t, [b, perSample * t.shape[1], t.shape[2], t.shape[3]]);
    let h = groupNorm(params, `${name}.norm1`, perVolume(x), groups);
    h = conv2d(params, `${name}.conv1`, tf.reshape(silu(h), x.shape) as tf.Tensor4D);
    const film = tf.reshape(dense(params, `${name}.film`, emb), [b, 1, 1, 2 * cout]);
    const [scale, shift] = tf.split(film, 2, 3);
    h = groupNorm(params, `${name}.norm2`, perVolume(h as tf.Tensor4D), groups); // [B, D*H, W, C]
    h = tf.add(tf.mul(h, tf.add(scale, 1)), shift);
    h = conv2d(params, `${name}.conv2`, tf.reshape(silu(h), [n, hgt, wid, cout]) as tf.Tensor4D);
    const skip = params.has(`${name}.skip.w`) ? conv2d(params, `${name}.skip`, x) : x;
    return tf.add(skip, h) as tf.Tensor4D;
  });
}

// ---------------------------------------------------------------------------
// Multi-head self-attention (Vaswani et al. 2017) over token sequences.

export function declareAttention(p: ParamList, name: string, c: number): void {
  p.norm(`${name}.norm`, c);
  p.dense(`${name}.qkv`, c, 3 * c);
  p.dense(`${name}.proj`, c, c, true);
}

/**
 * softmax(q k^T / sqrt(d)) v for S independent sequences.
 * q, k, v: [S, L, d]. Returns [S, L, d].
 *
 * wasm runs only untransposed batch-1 matMul in XNNPACK (DESIGN §5), so a few
 * long sequences go one matMul per sequence (scripts/measure-attention.ts:
 * 4x faster at S=8, L=256, 16x at L=1024), while many short ones stay one
 * batched matMul (per-sequence calls cost ~1 ms each in dispatch).
 */
export function scaledDotAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  const [s, l, d] = q.shape;
  const kT = tf.transpose(k, [0, 2, 1]); // [S, d, L]
  const qs = tf.mul(q, 1 / Math.sqrt(d));
  if (s <= 16 && l >= 256) {
    const ki = tf.unstack(kT) as tf.Tensor2D[];
    const vi = tf.unstack(v) as tf.Tensor2D[];
    const per = (tf.unstack(qs) as tf.Tensor2D[]).map((qi, i) => tf.matMul(tf.softmax(tf.matMul(qi, ki[i])) as tf.Tensor2D, vi[i]));
    return tf.stack(per) as tf.Tensor3D; // [S, L, d]
  }
  return tf.matMul(tf.softmax(tf.matMul(qs, kT)) as tf.Tensor3D, v);
}

/**
 * Pre-norm residual self-attention over tokens: x [S, L, C] (already grouped
 * into sequences) with `normed` its GroupNorm output of the same shape.
 * `bias(heads)` optionally gives an additive score bias [heads, L, L].
 * Returns x + proj(attention) [S, L, C].
 */
export function attentionResidual(
  params: Params,
  name: string,
  x: tf.Tensor3D,
  normed: tf.Tensor3D,
  heads: number,
  bias?: tf.Tensor3D,
): tf.Tensor3D {
  const [s, l, c] = x.shape;
  const d = c / heads;
  const qkv = dense(params, `${name}.qkv`, tf.reshape(normed, [s * l, c]) as tf.Tensor2D); // [S*L, 3C]
  // [S*L, 3C] -> [3, S*heads, L, d]
  const split = tf.transpose(tf.reshape(qkv, [s, l, 3, heads, d]), [2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(tf.reshape(split, [3, s * heads, l, d])) as tf.Tensor3D[];
  // A [heads, L, L] bias is shared across the S sequences: broadcast as [S, heads, L, L] (rank 4).
  const attended = bias ? scaledDotAttentionBiased(q, k, v, bias, s, heads) : scaledDotAttention(q, k, v); // [S*heads, L, d]
  const out = tf.reshape(attended, [s, heads, l, d]);
  const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [s * l, c]) as tf.Tensor2D; // [S*L, C]
  return tf.add(x, tf.reshape(dense(params, `${name}.proj`, merged), [s, l, c])) as tf.Tensor3D;
}

/**
 * scaledDotAttention with a per-head score bias [heads, L, L] on S * heads
 * sequences; used for depth attention (short sequences: always batched).
 */
function scaledDotAttentionBiased(
  q: tf.Tensor3D,
  k: tf.Tensor3D,
  v: tf.Tensor3D,
  bias: tf.Tensor3D,
  s: number,
  heads: number,
): tf.Tensor3D {
  const [, l, d] = q.shape;
  const scores = tf.matMul(tf.mul(q, 1 / Math.sqrt(d)), tf.transpose(k, [0, 2, 1])); // [S*heads, L, L]
  const biased = tf.reshape(tf.add(tf.reshape(scores, [s, heads, l, l]), bias), [s * heads, l, l]);
  return tf.matMul(tf.softmax(biased) as tf.Tensor3D, v);
}
