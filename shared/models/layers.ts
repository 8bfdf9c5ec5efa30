// The building blocks every network shares, written against DESIGN §5: only
// ops that are fast and correct on the cpu and wasm backends (conv2d,
// untransposed matMul, reshapes), never conv3d, rank >= 7 broadcasts,
// batched transposed matMul, or rank > 4 transposes and tiles (scalar loops
// on wasm, like its channel concat of large tensors).
//
// Each function reads its parameters by the names ParamList declares and
// returns a new tensor; callers wrap blocks in tf.tidy.
import * as tf from '@tensorflow/tfjs-core';
import { param, ParamList } from './params.ts';
import type { Film, Params } from './types.ts';

/** 'same' padding as TensorFlow computes it: [before, after] along one axis. */
export function samePadding(size: number, k: number, stride: number): [number, number] {
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

/**
 * tf.conv2d ('same'), plus a bias in the same FusedConv2D kernel when given
 * (the add rides in the convolution's output loop instead of a full-size
 * pass), with gradients every backend can run, fast on wasm.
 */
function conv2dSame(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D | undefined, stride: number): tf.Tensor4D {
  const grads = (dy: tf.Tensor4D, xs: tf.Tensor4D, ws: tf.Tensor4D) => [conv2dInputGrad(dy, ws, xs.shape, stride), conv2dFilterGrad(xs, dy, ws.shape[0], stride)];
  if (!b) {
    const op = tf.customGrad((xx, ww, save) => {
      (save as tf.GradSaveFunc)([xx as tf.Tensor, ww as tf.Tensor]);
      return {
        value: tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, 'same'),
        gradFunc: (dy, saved) => grads(dy as tf.Tensor4D, ...(saved as [tf.Tensor4D, tf.Tensor4D])),
      };
    });
    return op(x, w) as tf.Tensor4D;
  }
  const op = tf.customGrad((xx, ww, bb, save) => {
    (save as tf.GradSaveFunc)([xx as tf.Tensor, ww as tf.Tensor]);
    return {
      value: tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, bias: bb as tf.Tensor1D, strides: stride, pad: 'same' }),
      gradFunc: (dy, saved) => [...grads(dy as tf.Tensor4D, ...(saved as [tf.Tensor4D, tf.Tensor4D])), tf.sum(dy, [0, 1, 2])],
    };
  });
  return op(x, w, b) as tf.Tensor4D;
}

/** k x k 'same' convolution over [N, H, W, Cin] -> [N, H/stride, W/stride, Cout]. */
export function conv2d(params: Params, name: string, x: tf.Tensor4D, stride: 1 | 2 = 1): tf.Tensor4D {
  return conv2dSame(x, param(params, `${name}.w`) as tf.Tensor4D, param(params, `${name}.b`) as tf.Tensor1D, stride);
}

/**
 * The stride-1 conv2d of the channel concatenation of `parts` ([N, H, W,
 * C_i] each), without making it: the sum over parts of each part convolved
 * with its block of input channels of the kernel (wasm concatenates along
 * channels with a copy per pixel, ~13 ms for a 32^3 x 32 volume).
 */
export function conv2dParts(params: Params, name: string, parts: tf.Tensor4D[]): tf.Tensor4D {
  if (parts.length === 1) return conv2d(params, name, parts[0]);
  const w = param(params, `${name}.w`) as tf.Tensor4D;
  let offset = 0;
  const outs = parts.map((part, i) => {
    const block = tf.slice(w, [0, 0, offset, 0], [-1, -1, part.shape[3], -1]) as tf.Tensor4D;
    offset += part.shape[3];
    return conv2dSame(part, block, i === 0 ? (param(params, `${name}.b`) as tf.Tensor1D) : undefined, 1);
  });
  return tf.addN(outs) as tf.Tensor4D;
}

/** x [N, Cin] -> [N, Cout]. */
export function dense(params: Params, name: string, x: tf.Tensor2D): tf.Tensor2D {
  // One _FusedMatMul kernel: the bias is added in the matMul's output loop.
  return tf.fused.matMul({ a: x, b: param(params, `${name}.w`) as tf.Tensor2D, bias: param(params, `${name}.b`) }) as tf.Tensor2D;
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}


/**
 * Below this many elements a tensor is cheap to copy or transpose and the
 * number of ops decides the time (~10 us each on wasm): the paths that save
 * full-size passes at the price of more ops (GroupNorm's pooled per-channel
 * statistics, the ResBlock's unjoined parts) are for tensors of at least this size.
 */
const LARGE = 2 ** 15;

/**
 * Per-channel mean over positions: x [B, N, C] -> [B, 1, C]. Large tensors
 * take one average pooling over an [N, 1] window (XNNPACK's NHWC pooling on
 * wasm, where tf.mean over a non-innermost axis first transposes the whole
 * tensor and a matMul with a 1/N row repacks it: measured 0.6 and 0.4 ms
 * against 0.06 ms on 64 x 64 x 32), with the gradient given: every position
 * receives dy / N.
 */
function channelMean(x: tf.Tensor3D): tf.Tensor3D {
  const [b, n, c] = x.shape;
  if (x.size < LARGE) return tf.mean(x, 1, true);
  const op = tf.customGrad((xx) => ({
    value: tf.reshape(tf.avgPool(tf.reshape(xx as tf.Tensor, [b, n, 1, c]) as tf.Tensor4D, [n, 1], 1, 'valid'), [b, 1, c]),
    gradFunc: (dy) => tf.mul(tf.ones([b, n, c]), tf.div(dy, n)), // not broadcastTo: a Tile, a scalar loop on wasm
  }));
  return op(x) as tf.Tensor3D;
}

/**
 * GroupNorm (Wu and He 2018) over every position of each sample: x [B, ..., C]
 * is normalised per (sample, group of C/G channels) over its positions and
 * the group's channels, then scaled by g and shifted by b per channel, and by
 * `film` per sample and channel when given.
 *
 * Written for wasm, where a large tensor's passes are the cost: the
 * statistics are per-channel means over positions pooled per group on
 * [B, 1, C]; norm, affine and FiLM fold into one per-channel scale and shift,
 * out = (x - mean) a + s. Every full-size op broadcasts a [B, 1, C] operand
 * (wasm's fast path; a [B, 1, G, 1] one is ~8x slower). Six full-size passes
 * instead of eight (ten with FiLM); measured 6x faster on a 32^3 x 16 volume.
 * Tensors under LARGE elements take fewer ops instead (groupNormSmall).
 */
export function groupNorm(params: Params, name: string, x: tf.Tensor, groups: number, eps = 1e-5, film?: Film): tf.Tensor {
  return groupNormParts(params, name, [x], groups, eps, film)[0];
}

/**
 * groupNorm of the channel concatenation of `parts` (each [B, ..., C_i],
 * equal but for C_i), returned as the matching parts, without making the
 * concatenation: the statistics start per channel, so each part gives its
 * channels' means and the groups pool them across parts.
 */
export function groupNormParts(params: Params, name: string, parts: tf.Tensor[], groups: number, eps = 1e-5, film?: Film): tf.Tensor[] {
  if (hasGroupNormKernel()) return groupNormKernel(params, name, parts, groups, eps, film);
  if (parts.length === 1 && parts[0].size < LARGE) return [groupNormSmall(params, name, parts[0], groups, eps, film)];
  const b = parts[0].shape[0];
  const widths = parts.map((p) => p.shape[p.shape.length - 1]);
  const c = widths.reduce((sum, w) => sum + w, 0);
  // Per-channel means of the parts [B, 1, C_i] -> each channel's group mean, [B, 1, C].
  const pooled = (perChannel: tf.Tensor3D[]) => {
    const joined = perChannel.length === 1 ? perChannel[0] : tf.concat(perChannel, 2);
    return tf.reshape(tf.tile(tf.mean(tf.reshape(joined, [b, groups, c / groups]), 2, true), [1, 1, c / groups]), [b, 1, c]);
  };
  // [B, 1, C] -> the parts' channels, [B, 1, C_i] each.
  const byPart = (t: tf.Tensor) => (parts.length === 1 ? [t] : tf.split(t, widths, 2));
  // Nested tidies free each full-size temporary as soon as it is used: at most three are alive at once.
  return tf.tidy(() => {
    const xs = parts.map((p, i) => tf.reshape(p, [b, -1, widths[i]]) as tf.Tensor3D);
    const means = byPart(pooled(xs.map(channelMean)));
    const centered = xs.map((x, i) => tf.sub(x, means[i]));
    const variance = tf.tidy(() => pooled(centered.map((t) => channelMean(tf.square(t) as tf.Tensor3D))));
    const [scale, shift] = affine(params, name, b, c, film);
    const a = byPart(tf.mul(tf.rsqrt(tf.add(variance, eps)), scale)); // g / sqrt(var + eps) (1 + FiLM scale)
    const s = byPart(shift);
    return centered.map((t, i) => tf.tidy(() => tf.reshape(tf.add(tf.mul(t, a[i]), s[i]), parts[i].shape)));
  });
}

/**
 * groupNorm of a small tensor, where the op count matters more than full-size
 * passes: the statistics straight from the [B, N, G, C/G] view (its
 * [B, 1, G, 1] broadcasts are slow on wasm only for large tensors).
 */
function groupNormSmall(params: Params, name: string, x: tf.Tensor, groups: number, eps: number, film?: Film): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const [b, c] = [shape[0], shape[shape.length - 1]];
    const grouped = tf.reshape(x, [b, -1, groups, c / groups]);
    const centered = tf.sub(grouped, tf.mean(grouped, [1, 3], true));
    const normed = tf.reshape(tf.mul(centered, tf.rsqrt(tf.add(tf.mean(tf.square(centered), [1, 3], true), eps))), [b, -1, c]);
    const [scale, shift] = affine(params, name, b, c, film);
    return tf.reshape(tf.add(tf.mul(normed, scale), shift), shape);
  });
}

/**
 * The kernel a backend may register to run a whole GroupNorm as one op
 * (inference only: it has no gradient). The ONNX recorder does
 * (sampler/onnx/ops.ts: InstanceNormalization, which onnxruntime runs in one
 * pass where the composites above are a dozen small nodes); the tfjs
 * backends run the composites.
 * Inputs x [B, ..., C], scale and shift [1 or B, 1, C] (affine's); attrs
 * { groups, eps }; output x's shape.
 */
export const GROUP_NORM_KERNEL = 'MedsynthGroupNorm';

/** Whether the active backend runs GROUP_NORM_KERNEL (and so prefers channel parts joined: one op over one tensor). */
export function hasGroupNormKernel(): boolean {
  return tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined;
}

function groupNormKernel(params: Params, name: string, parts: tf.Tensor[], groups: number, eps: number, film?: Film): tf.Tensor[] {
  return tf.tidy(() => {
    const widths = parts.map((p) => p.shape[p.shape.length - 1]);
    const x = parts.length === 1 ? parts[0] : tf.concat(parts, -1);
    const [scale, shift] = affine(params, name, x.shape[0], x.shape[x.shape.length - 1], film);
    const y = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, scale, shift }, { groups, eps }) as tf.Tensor;
    return parts.length === 1 ? [y] : tf.split(y, widths, -1);
  });
}

/** The scale and shift after normalisation, [1 or B, 1, C]: g and b, times (1 + scale) and plus shift under FiLM. */
function affine(params: Params, name: string, b: number, c: number, film?: Film): [tf.Tensor, tf.Tensor] {
  const g = tf.reshape(param(params, `${name}.g`), [1, 1, c]);
  const beta = tf.reshape(param(params, `${name}.b`), [1, 1, c]);
  if (!film) return [g, beta];
  const gain = tf.reshape(tf.add(film.scale, 1), [b, 1, c]);
  return [tf.mul(g, gain), tf.add(tf.mul(beta, gain), tf.reshape(film.shift, [b, 1, c]))];
}

/** SiLU(GroupNorm(x)) of a channel concatenation given as parts (see groupNormParts), freeing the norm's output once the activation has it. */
export function normAct(params: Params, name: string, parts: tf.Tensor[], groups: number, film?: Film): tf.Tensor[] {
  return tf.tidy(() => groupNormParts(params, name, parts, groups, undefined, film).map(silu));
}

const FREQUENCIES = new Map<number, Float32Array>();

/** f_i = 10000^(-i / (half - 1)), computed once per width. */
function frequencies(half: number): Float32Array {
  let f = FREQUENCIES.get(half);
  if (!f) FREQUENCIES.set(half, (f = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / Math.max(half - 1, 1)))));
  return f;
}

/**
 * Sinusoidal embedding of t [B] (Vaswani et al. 2017; DDPM's timestep
 * embedding): t is scaled by 1000 so a [0, 1] time spans the same frequencies
 * as DDPM's integer steps. Returns [B, dim] = [sin(t f_i) | cos(t f_i)].
 */
export function timeEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  const half = dim / 2;
  const args = tf.mul(tf.reshape(tf.mul(t, 1000), [-1, 1]), tf.tensor2d(frequencies(half), [1, half])); // [B, half]
  return tf.concat([tf.sin(args), tf.cos(args)], 1) as tf.Tensor2D;
}

/**
 * Nearest-neighbour 2x upsampling by reshapes and concats (no resize op: its
 * gradient is wrong on wasm; no rank-6 tile: a scalar loop on wasm, measured
 * 27 ms against 1.3 ms for a 32x32x64 input). tfjs has no rank-6 tile
 * gradient either, so the gradient is given: each input pixel receives the
 * sum over its 2x2 block.
 */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const op = tf.customGrad((xx) => {
    const cols = tf.reshape(xx as tf.Tensor, [n, h, w, 1, c]);
    const wide = tf.reshape(tf.concat([cols, cols], 3), [n, h, 1, 2 * w, c]); // each pixel twice along W
    return {
      value: tf.reshape(tf.concat([wide, wide], 2), [n, 2 * h, 2 * w, c]), // each row twice along H
      gradFunc: (dy) => tf.sum(tf.reshape(dy, [n, h, 2, w, 2, c]), [2, 4]),
    };
  });
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

/** A ResBlock's FiLM terms from the conditioning vector emb [B, E]: scale and shift [B, Cout]. */
export function filmOf(params: Params, name: string, emb: tf.Tensor2D): Film {
  return tf.tidy(() => {
    const [scale, shift] = tf.split(dense(params, `${name}.film`, emb), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    return { scale, shift };
  });
}

/**
 * h = conv1(SiLU(GN(x))); h = GN(h) (1 + scale) + shift with (scale, shift)
 * from the conditioning vector (filmOf); out = skip(x) + conv2(SiLU(h)).
 * x [N, H, W, Cin] where N = B * perSample (3D volumes pass depth slices as
 * batch; GroupNorm still normalises over the whole volume of each sample),
 * or parts [N, H, W, C_i] of x along the channels (the U-Net's up path: h
 * and its skip) that are never joined into one tensor. Returns
 * [N, H, W, Cout].
 */
export function resBlock(
  params: Params,
  name: string,
  x: tf.Tensor4D | tf.Tensor4D[],
  film: Film,
  groups: number,
  perSample = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    let parts = Array.isArray(x) ? x : [x];
    const hasSkipConv = params.has(`${name}.skip.w`);
    // An identity skip adds the input itself, which needs the parts joined; small parts are cheaper joined
    // too, and so is everything on a backend that runs GroupNorm as one op (one norm and one conv per join).
    const joined = !hasSkipConv || hasGroupNormKernel() || parts.reduce((size, p) => size + p.size, 0) < LARGE;
    if (parts.length > 1 && joined) parts = [tf.concat(parts, 3) as tf.Tensor4D];
    const [n, hgt, wid] = parts[0].shape;
    const b = n / perSample;
    const cout = param(params, `${name}.conv1.b`).shape[0];
    const perVolume = (t: tf.Tensor4D) => tf.reshape(t, [b, perSample * t.shape[1], t.shape[2], t.shape[3]]);
    // Each half in its own tidy, so its full-size temporaries are gone before the next starts (volumes are large).
    const h = tf.tidy(() => {
      const normed = normAct(params, `${name}.norm1`, parts.map(perVolume), groups);
      return conv2dParts(params, `${name}.conv1`, normed.map((t, i) => tf.reshape(t, parts[i].shape) as tf.Tensor4D));
    });
    const r = tf.tidy(() => {
      const [normed] = normAct(params, `${name}.norm2`, [perVolume(h)], groups, film); // [B, D*H, W, C]
      return conv2d(params, `${name}.conv2`, tf.reshape(normed, [n, hgt, wid, cout]) as tf.Tensor4D);
    });
    h.dispose();
    const skip = hasSkipConv ? conv2dParts(params, `${name}.skip`, parts) : parts[0];
    return tf.add(skip, r) as tf.Tensor4D;
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
 */
export function scaledDotAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D): tf.Tensor3D {
  return attend(tf.mul(q, 1 / Math.sqrt(q.shape[2])), tf.transpose(k, [0, 2, 1]), v);
}

/**
 * t [S, ...] as its S sequences. One sequence is a reshape: tfjs's gradient of
 * an Unpack with a single output stacks a tensor instead of a list and
 * throws (a batch-1 VDM training step did).
 */
function sequences(t: tf.Tensor3D): tf.Tensor2D[] {
  return t.shape[0] === 1 ? [tf.reshape(t, [t.shape[1], t.shape[2]]) as tf.Tensor2D] : (tf.unstack(t) as tf.Tensor2D[]);
}

/**
 * softmax(q k^T [+ bias]) v from q already scaled by 1/sqrt(d) and k already
 * transposed: q [S, L, d], kT [S, d, L], v [S, L, d]; `bias` [heads, L, L]
 * is shared by the S / heads sequences of each head (sequence i has head
 * i mod heads). Returns [S, L, d].
 *
 * wasm runs only untransposed batch-1 matMul in XNNPACK (DESIGN §5), so a few
 * long sequences go one matMul per sequence (scripts/measure-attention.ts:
 * 4x faster at S=8, L=256, 16x at L=1024), while many short ones stay one
 * batched matMul (per-sequence calls cost ~1 ms each in dispatch).
 */
function attend(q: tf.Tensor3D, kT: tf.Tensor3D, v: tf.Tensor3D, bias?: tf.Tensor3D): tf.Tensor3D {
  const [s, l] = q.shape;
  if (!bias && s <= 16 && l >= 256) {
    const ki = sequences(kT);
    const vi = sequences(v);
    const per = sequences(q).map((qi, i) => attendRows(qi, ki[i], vi[i]));
    return tf.stack(per) as tf.Tensor3D; // [S, L, d]
  }
  // Scores for a few sequences at a time, so their [chunk, L, L] block stays within SCORE_BLOCK
  // (a 64^3 volume's spatial attention holds 256 x 256^2 scores, 64 MiB, and their softmax as much again).
  const heads = bias?.shape[0] ?? 1;
  const chunk = Math.max(heads, heads * Math.floor(SCORE_BLOCK / (heads * l * l)));
  const parts: tf.Tensor3D[] = [];
  for (let start = 0; start < s; start += chunk) {
    const size = Math.min(chunk, s - start);
    const part = (t: tf.Tensor3D) => (size === s ? t : tf.slice(t, [start, 0, 0], [size, -1, -1]));
    parts.push(
      tf.tidy(() => {
        let scores: tf.Tensor = tf.matMul(part(q), part(kT)); // [size, L, L]
        // Broadcast the bias as [size / heads, heads, L, L] (rank 4: wasm's rank >= 7 broadcasts are wrong).
        if (bias) scores = tf.reshape(tf.add(tf.reshape(scores, [size / heads, heads, l, l]), bias), [size, l, l]);
        return tf.matMul(tf.softmax(scores) as tf.Tensor3D, part(v));
      }),
    );
  }
  return parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor3D);
}

/** Score elements per block of attention: 4M, 16 MiB of float32. */
const SCORE_BLOCK = 2 ** 22;

/**
 * softmax(q k^T) v for one sequence, q [L, d], kT [d, L], v [L, d], over
 * blocks of query rows whose [rows, L] scores stay within SCORE_BLOCK (a
 * 64 x 64 image's 4096 tokens have 16M scores per head). Softmax is per row,
 * so the blocks give exactly the full product.
 */
function attendRows(q: tf.Tensor2D, kT: tf.Tensor2D, v: tf.Tensor2D): tf.Tensor2D {
  const [l] = q.shape;
  const keys = kT.shape[1];
  const rows = Math.max(1, Math.floor(SCORE_BLOCK / keys));
  if (rows >= l) return tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(q, kT)) as tf.Tensor2D, v));
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < l; start += rows) {
    parts.push(tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(tf.slice(q, [start, 0], [Math.min(rows, l - start), -1]), kT)) as tf.Tensor2D, v)));
  }
  return tf.concat(parts, 0) as tf.Tensor2D;
}

/**
 * Pre-norm residual self-attention over tokens: x [S, L, C] (already grouped
 * into sequences) with `normed` its GroupNorm output of the same shape.
 * `bias` optionally gives an additive score bias per head [heads, L, L].
 * Returns x + proj(attention) [S, L, C].
 *
 * q, k and v come from column blocks of the qkv weights, three matMuls on
 * the tokens rather than one and a split (a strided copy of 3 S L C values),
 * with 1/sqrt(d) folded into q's block. Heads move to the batch axis with
 * rank-4 transposes (wasm's rank-5 transpose is a scalar loop: 14 ms against
 * 0.2 ms on 32 sequences of 64 tokens), and k goes straight to k^T.
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
  const tokens = tf.reshape(normed, [s * l, c]) as tf.Tensor2D;
  const w = param(params, `${name}.qkv.w`);
  const b = param(params, `${name}.qkv.b`);
  const project = (block: number, scale = 1): tf.Tensor2D => {
    const wi = tf.slice(w, [0, block * c], [c, c]) as tf.Tensor2D;
    const bi = tf.slice(b, [block * c], [c]);
    return tf.fused.matMul({ a: tokens, b: scale === 1 ? wi : tf.mul(wi, scale), bias: scale === 1 ? bi : tf.mul(bi, scale) }) as tf.Tensor2D;
  }; // [S*L, C]
  // [S*L, C] -> [S, L, heads, d] -> `perm` -> [S*heads, ., .]
  const toHeads = (t: tf.Tensor2D, perm: number[], rows: number, cols: number) =>
    tf.reshape(tf.transpose(tf.reshape(t, [s, l, heads, d]), perm), [s * heads, rows, cols]) as tf.Tensor3D;
  const q = heads === 1 ? (tf.reshape(project(0, 1 / Math.sqrt(d)), [s, l, d]) as tf.Tensor3D) : toHeads(project(0, 1 / Math.sqrt(d)), [0, 2, 1, 3], l, d);
  const kT = heads === 1 ? (tf.transpose(tf.reshape(project(1), [s, l, d]), [0, 2, 1]) as tf.Tensor3D) : toHeads(project(1), [0, 2, 3, 1], d, l);
  const v = heads === 1 ? (tf.reshape(project(2), [s, l, d]) as tf.Tensor3D) : toHeads(project(2), [0, 2, 1, 3], l, d);
  const attended = attend(q, kT, v, bias); // [S*heads, L, d]
  const merged = (heads === 1 ? tf.reshape(attended, [s * l, c]) : tf.reshape(tf.transpose(tf.reshape(attended, [s, heads, l, d]), [0, 2, 1, 3]), [s * l, c])) as tf.Tensor2D; // [S*L, C]
  return tf.add(x, tf.reshape(dense(params, `${name}.proj`, merged), [s, l, c])) as tf.Tensor3D;
}
