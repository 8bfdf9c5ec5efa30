// 3D building blocks from conv2d and reshapes only (DESIGN §5): wasm's
// tf.conv3d runs at ~0.4 GFLOP/s, its input gradient and strided filter
// gradient are wrong, and conv3dTranspose's forward is wrong. Every op here
// is checked against the cpu backend's tf.conv3d (test/shared/models/layers3d.test.ts).
//
// Volumes are [B, D, H, W, C]; intermediate views stay at rank <= 4, where
// every wasm kernel (slice, pad, concat, tile) and its gradient are sound.
import * as tf from '@tensorflow/tfjs-core';
import { conv2d, groupNorm, samePadding, silu, upsample2x } from './layers.ts';
import { param, ParamList } from './params.ts';
import type { Params } from './types.ts';

/** Per-axis [D, H, W] sizes, kernels, strides or factors. */
export type Triple = [number, number, number];

/** A kd x kh x kw convolution: `${name}.w` [kd, kh, kw, cin, cout] (tf.conv3d's layout), `${name}.b` [cout]. */
export function declareConv3d(p: ParamList, name: string, k: Triple, cin: number, cout: number, zeroInit = false): void {
  p.add(`${name}.w`, [...k, cin, cout], zeroInit ? 'zeros' : 'normal', k[0] * k[1] * k[2] * cin);
  p.add(`${name}.b`, [cout], 'zeros');
}

/**
 * Entries offset, offset + s, ..., (count of them) along `axis` of x, by a
 * reshape to [outer, count, s, inner] and a slice (tfjs has no StridedSlice
 * gradient). Pads zeros at the end when the last group is short.
 */
function strided(x: tf.Tensor, axis: number, offset: number, s: number, count: number): tf.Tensor {
  const shape = x.shape;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  let v = tf.reshape(x, [outer, n, inner]);
  const need = offset + count * s;
  if (need > n) v = tf.pad(v, [[0, 0], [0, need - n], [0, 0]]);
  if (offset > 0 || need < n) v = tf.slice(v, [0, offset, 0], [outer, count * s, inner]);
  const picked = tf.slice(tf.reshape(v, [outer, count, s, inner]), [0, 0, 0, 0], [outer, count, 1, inner]);
  return tf.reshape(picked, [...shape.slice(0, axis), count, ...shape.slice(axis + 1)]);
}

/**
 * The depth taps of a 'same' convolution, folded for conv2d:
 * x [B, D, H, W, C] -> [B*Do, H, W, kd*C], Do = ceil(D / sd), where channel
 * block a of output slice o holds input slice o*sd + a - padBefore (zero
 * outside the volume).
 */
function depthTaps(x: tf.Tensor5D, kd: number, sd: number): tf.Tensor4D {
  const [b, d, h, w, c] = x.shape;
  const dOut = Math.ceil(d / sd);
  const [before, after] = samePadding(d, kd, sd);
  const padded = tf.pad(tf.reshape(x, [b, d, h * w * c]), [[0, 0], [before, after], [0, 0]]); // [B, Dp, HWC]
  const taps = Array.from({ length: kd }, (_, a) => tf.reshape(strided(padded, 1, a, sd, dOut), [b * dOut, h, w, c]));
  return (kd === 1 ? taps[0] : tf.concat(taps, 3)) as tf.Tensor4D;
}

/**
 * 'same' 3D convolution x [B, D, H, W, Cin] -> [B, ceil(D/sd), ceil(H/sh), ceil(W/sw), Cout]
 * as ONE conv2d over the depth taps stacked on channels (DESIGN §5):
 * y[o] = sum_a conv2d(x[o*sd + a - pad], w[a]) = conv2d(concat_a x[o*sd + a - pad], concat_a w[a]).
 * One conv2d (rather than kd of them plus adds) keeps wasm in XNNPACK with a
 * deeper reduction and fewer dispatches; its gradients are layers.ts's conv2d
 * gradients (correct on wasm) plus those of pad/slice/concat.
 * Strides are 1 or 2 per axis; unequal H and W strides run the conv2d at
 * stride 1 and keep every other row or column.
 */
export function conv3d(params: Params, name: string, x: tf.Tensor5D, stride: Triple = [1, 1, 1]): tf.Tensor5D {
  return tf.tidy(() => {
    const w = param(params, `${name}.w`) as tf.Tensor5D;
    const [kd, kh, kw, cin, cout] = w.shape;
    const [b, d, h, wd, c] = x.shape;
    if (c !== cin) throw new Error(`conv3d ${name}: input has ${c} channels, the filter expects ${cin}`);
    const [sd, sh, sw] = stride;
    if (![sd, sh, sw].every((s) => s === 1 || s === 2)) throw new Error(`conv3d ${name}: strides must be 1 or 2, got [${stride}]`);
    const taps = depthTaps(x, kd, sd); // [B*Do, H, W, kd*Cin]
    const w2 = tf.reshape(tf.transpose(w, [1, 2, 0, 3, 4]), [kh, kw, kd * cin, cout]); // tap-major channels, as in taps
    const folded = new Map([[`${name}.w`, w2], [`${name}.b`, param(params, `${name}.b`)]]);
    let y: tf.Tensor4D = conv2d(folded, name, taps, sh === sw ? (sh as 1 | 2) : 1);
    if (sh !== sw) {
      // Row i of the stride-1 output starts at i - before1; the strided output o at o*2 - before2.
      const [axis, size, k] = sh === 2 ? [1, h, kh] : [2, wd, kw];
      y = strided(y, axis, samePadding(size, k, 1)[0] - samePadding(size, k, 2)[0], 2, Math.ceil(size / 2)) as tf.Tensor4D;
    }
    return tf.reshape(y, [b, Math.ceil(d / sd), y.shape[1], y.shape[2], cout]);
  });
}

/**
 * x repeated `factor` times along `axis` (nearest-neighbour upsampling), as a
 * rank-4 tile with its gradient given: each entry receives the sum over its copies.
 */
function repeatAxis(x: tf.Tensor, axis: number, factor: number): tf.Tensor {
  const shape = x.shape;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = shape[axis];
  const outShape = [...shape.slice(0, axis), n * factor, ...shape.slice(axis + 1)];
  const op = tf.customGrad((xx) => ({
    value: tf.reshape(tf.tile(tf.reshape(xx as tf.Tensor, [outer, n, 1, inner]), [1, 1, factor, 1]), outShape),
    gradFunc: (dy) => tf.reshape(tf.sum(tf.reshape(dy, [outer, n, factor, inner]), 2), shape),
  }));
  return op(x);
}

/**
 * Nearest-neighbour upsampling of x [B, D, H, W, C] by per-axis factors
 * (powers of 2), by reshape and tile: never conv3dTranspose or resize ops,
 * whose wasm forward or gradients are wrong (DESIGN §5).
 */
export function upsample3d(x: tf.Tensor5D, factors: Triple): tf.Tensor5D {
  return tf.tidy(() => {
    const [fd, fh, fw] = factors;
    let y: tf.Tensor = fd > 1 ? repeatAxis(x, 1, fd) : x;
    const [b, d, h, w, c] = y.shape;
    if (fh === 2 && fw === 2) {
      y = tf.reshape(upsample2x(tf.reshape(y, [b * d, h, w, c]) as tf.Tensor4D), [b, d, 2 * h, 2 * w, c]);
    } else {
      if (fh > 1) y = repeatAxis(y, 2, fh);
      if (fw > 1) y = repeatAxis(y, 3, fw);
    }
    return y as tf.Tensor5D;
  });
}

/** One depth slice per volume: x [B, D, H, W, C], index[b] in [0, D) -> [B, H, W, C]. */
export function depthSlices(x: tf.Tensor5D, index: readonly number[]): tf.Tensor4D {
  const [b, d, h, w, c] = x.shape;
  if (index.length !== b || index.some((i) => !Number.isInteger(i) || i < 0 || i >= d)) {
    throw new Error(`depthSlices: need ${b} slice indices in [0, ${d}), got [${index}]`);
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [b, d, h * w * c]);
    const rows = index.map((i, n) => tf.slice(flat, [n, i, 0], [1, 1, h * w * c]));
    return tf.reshape(rows.length === 1 ? rows[0] : tf.concat(rows, 0), [b, h, w, c]);
  });
}

// ---------------------------------------------------------------------------
// Pre-activation ResBlock without conditioning (TATS / Medical Diffusion's
// ResBlock): out = skip(x) + conv2(SiLU(GN(conv1(SiLU(GN(x)))))).

export function declareResBlock3d(p: ParamList, name: string, cin: number, cout: number): void {
  p.norm(`${name}.norm1`, cin);
  declareConv3d(p, `${name}.conv1`, [3, 3, 3], cin, cout);
  p.norm(`${name}.norm2`, cout);
  declareConv3d(p, `${name}.conv2`, [3, 3, 3], cout, cout);
  if (cin !== cout) declareConv3d(p, `${name}.skip`, [3, 3, 3], cin, cout);
}

/** x [B, D, H, W, Cin] -> [B, D, H, W, Cout]; GroupNorm statistics over each whole volume. */
export function resBlock3d(params: Params, name: string, x: tf.Tensor5D, groups: number, eps = 1e-6): tf.Tensor5D {
  return tf.tidy(() => {
    let h = conv3d(params, `${name}.conv1`, silu(groupNorm(params, `${name}.norm1`, x, groups, eps)) as tf.Tensor5D);
    h = conv3d(params, `${name}.conv2`, silu(groupNorm(params, `${name}.norm2`, h, groups, eps)) as tf.Tensor5D);
    const skip = params.has(`${name}.skip.w`) ? conv3d(params, `${name}.skip`, x) : x;
    return tf.add(skip, h) as tf.Tensor5D;
  });
}
