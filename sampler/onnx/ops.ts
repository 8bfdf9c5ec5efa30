// The op vocabulary of medsynth's networks, as ONNX: one translation per
// tfjs kernel the models in shared/models call at inference. The models are
// written once, against tfjs; record.ts runs them on a backend whose kernels
// are these translations, so the same calls become an ONNX graph.
//
// tfjs tensors are NHWC; ONNX's Conv and AveragePool are NCHW, so those two
// transpose around themselves (onnxruntime's CPU layout pass folds such
// transposes into its own NCHWc reorders).
import * as tf from '@tensorflow/tfjs-core';
import { GROUP_NORM_KERNEL, samePadding } from '../../shared/models/layers.ts';
import { ELEM, type GraphBuilder, type Value } from './graph.ts';

type Attrs = Record<string, unknown>;
export type Translation = (g: GraphBuilder, inputs: Value[], attrs: Attrs) => Value | Value[];

const axisOf = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v as number, v as number]);
const broadcast = (a: readonly number[], b: readonly number[]) => tf.backend_util.assertAndGetBroadcastShape([...a], [...b]);

const binary = (op: string): Translation => (g, [a, b]) => ({ name: g.op(op, [a.name, b.name]), shape: broadcast(a.shape, b.shape), dtype: a.dtype });
const unary = (op: string): Translation => (g, [x]) => ({ name: g.op(op, [x.name]), shape: x.shape, dtype: x.dtype });

/** NHWC x through an NCHW op: transpose in, op, transpose out. */
function nchw(g: GraphBuilder, x: string, f: (xNchw: string) => string): string {
  return g.op('Transpose', [f(g.op('Transpose', [x], { perm: [0, 3, 1, 2] }))], { perm: [0, 2, 3, 1] });
}

/** Pads, output size and strides of a 2D window op from tfjs attributes. */
function window(x: readonly number[], k: [number, number], attrs: Attrs) {
  const [sh, sw] = pair(attrs.strides);
  const dil = pair(attrs.dilations ?? 1);
  if (dil[0] !== 1 || dil[1] !== 1) throw new Error('onnx graph: dilated convolutions are not in the vocabulary');
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') throw new Error(`onnx graph: data format ${String(attrs.dataFormat)} is not supported`);
  const [, h, w] = x;
  let pads: [number, number, number, number];
  if (attrs.pad === 'same') {
    const [t, b] = samePadding(h, k[0], sh);
    const [l, r] = samePadding(w, k[1], sw);
    pads = [t, l, b, r];
  } else if (attrs.pad === 'valid') pads = [0, 0, 0, 0];
  else if (typeof attrs.pad === 'number') pads = [attrs.pad, attrs.pad, attrs.pad, attrs.pad];
  else throw new Error(`onnx graph: padding ${JSON.stringify(attrs.pad)} is not supported`);
  const out = [Math.floor((h + pads[0] + pads[2] - k[0]) / sh) + 1, Math.floor((w + pads[1] + pads[3] - k[1]) / sw) + 1];
  return { pads, strides: [sh, sw], out };
}

function conv(g: GraphBuilder, [x, filter, bias]: Value[], attrs: Attrs): Value {
  const [kh, kw, , cout] = filter.shape;
  const { pads, strides, out } = window(x.shape, [kh, kw], attrs);
  const w = g.op('Transpose', [filter.name], { perm: [3, 2, 0, 1] }); // HWIO -> OIHW (constant-folded by onnxruntime)
  let y = nchw(g, x.name, (xn) => g.op('Conv', bias ? [xn, w, bias.name] : [xn, w], { kernel_shape: [kh, kw], pads, strides }));
  y = activation(g, y, attrs.activation);
  return { name: y, shape: [x.shape[0], out[0], out[1], cout], dtype: 'float32' };
}

function activation(g: GraphBuilder, y: string, act: unknown): string {
  if (act === undefined || act === 'linear') return y;
  if (act === 'relu') return g.op('Relu', [y]);
  if (act === 'sigmoid') return g.op('Sigmoid', [y]);
  throw new Error(`onnx graph: fused activation "${String(act)}" is not in the vocabulary`);
}

/** tfjs matMul: batched over leading axes with broadcasting, optional transposes of the last two axes. */
function matMul(g: GraphBuilder, [a, b, bias]: Value[], attrs: Attrs): Value {
  const t = (v: Value, yes: unknown): Value => {
    if (!yes) return v;
    const r = v.shape.length;
    const perm = [...Array(r - 2).keys(), r - 1, r - 2];
    return { name: g.op('Transpose', [v.name], { perm }), shape: perm.map((p) => v.shape[p]), dtype: v.dtype };
  };
  const [aa, bb] = [t(a, attrs.transposeA), t(b, attrs.transposeB)];
  const batch = broadcast(aa.shape.slice(0, -2), bb.shape.slice(0, -2));
  let y = g.op('MatMul', [aa.name, bb.name]);
  if (bias) y = g.op('Add', [y, bias.name]);
  y = activation(g, y, attrs.activation);
  return { name: y, shape: [...batch, aa.shape[aa.shape.length - 2], bb.shape[bb.shape.length - 1]], dtype: 'float32' };
}

function reduce(op: 'ReduceMean' | 'ReduceSum'): Translation {
  return (g, [x], attrs) => {
    const r = x.shape.length;
    const axes = (attrs.axis === null || attrs.axis === undefined ? [...Array(r).keys()] : ([] as number[]).concat(attrs.axis as number)).map((a) => axisOf(a, r));
    const keep = attrs.keepDims ? 1 : 0;
    // ReduceSum takes its axes as an input since opset 13, ReduceMean as an attribute until opset 18.
    const name = op === 'ReduceSum' ? g.op(op, [x.name, g.ints(axes)], { keepdims: keep }) : g.op(op, [x.name], { axes, keepdims: keep });
    const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
    return { name, shape, dtype: x.dtype };
  };
}

function reshape(g: GraphBuilder, x: Value, target: readonly number[]): Value {
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const shape = target.map((d) => (d === -1 ? tf.util.sizeFromShape([...x.shape]) / known : d));
  if (tf.util.sizeFromShape(shape) !== tf.util.sizeFromShape([...x.shape])) throw new Error(`onnx graph: cannot reshape [${x.shape}] to [${target}]`);
  // No node for a reshape to the same shape: it would stand between transposes that otherwise cancel.
  if (tf.util.arraysEqual(shape, [...x.shape])) return x;
  return { name: g.op('Reshape', [x.name, g.ints(shape)]), shape, dtype: x.dtype };
}

/**
 * GroupNorm (GROUP_NORM_KERNEL) of x [B, ..., C] with scale and shift [1 or B, 1, C]: in channels-first
 * layout, the groups are contiguous, so the normalisation is ONNX's InstanceNormalization of the
 * [B, G, C/G * positions] view; then the per-channel affine, and back to channels-last. The transposes
 * cancel against the ones around the Convs before and after (onnxruntime's transpose optimizer), so a
 * ResBlock runs channels-first throughout.
 */
function groupNorm(g: GraphBuilder, [x, scale, shift]: Value[], attrs: Attrs): Value {
  const groups = attrs.groups as number;
  const r = x.shape.length;
  const [b, c] = [x.shape[0], x.shape[r - 1]];
  if (r < 3 || c % groups !== 0) throw new Error(`onnx graph: GroupNorm of [${x.shape}] in ${groups} groups is not supported`);
  const toFirst = [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)];
  const toLast = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
  const firstShape = toFirst.map((p) => x.shape[p]);
  const grouped = g.op('Reshape', [g.op('Transpose', [x.name], { perm: toFirst }), g.ints([b, groups, -1])]);
  const ones = g.constant(new Float32Array(groups).fill(1), [groups], 'float32');
  const zeros = g.constant(new Float32Array(groups), [groups], 'float32');
  const normed = g.op('Reshape', [g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: attrs.eps as number } }), g.ints(firstShape)]);
  const perChannel = (v: Value) => g.op('Reshape', [v.name, g.ints([v.shape[0], c, ...Array(r - 2).fill(1)])]);
  const y = g.op('Add', [g.op('Mul', [normed, perChannel(scale)]), perChannel(shift)]);
  return { name: g.op('Transpose', [y], { perm: toLast }), shape: x.shape, dtype: x.dtype };
}

function concat(g: GraphBuilder, xs: Value[], axis: number): Value {
  const a = axisOf(axis, xs[0].shape.length);
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, v) => s + v.shape[a], 0);
  return { name: xs.length === 1 ? g.op('Identity', [xs[0].name]) : g.op('Concat', xs.map((v) => v.name), { axis: a }), shape, dtype: xs[0].dtype };
}

function split(g: GraphBuilder, x: Value, sizes: number[], axis: number): Value[] {
  const a = axisOf(axis, x.shape.length);
  const names = sizes.map(() => g.fresh('split'));
  g.node('Split', [x.name, g.ints(sizes)], names, { axis: a });
  return names.map((name, i) => ({ name, shape: x.shape.map((d, j) => (j === a ? sizes[i] : d)), dtype: x.dtype }));
}

export const OPS: Record<string, Translation> = {
  [GROUP_NORM_KERNEL]: groupNorm,
  FusedConv2D: conv,
  Conv2D: conv,
  _FusedMatMul: matMul,
  BatchMatMul: matMul,
  Add: binary('Add'),
  Sub: binary('Sub'),
  Multiply: binary('Mul'),
  RealDiv: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  AddN: (g, xs) => ({ name: g.op('Sum', xs.map((v) => v.name)), shape: xs[0].shape, dtype: xs[0].dtype }),
  Sigmoid: unary('Sigmoid'),
  Sin: unary('Sin'),
  Cos: unary('Cos'),
  Exp: unary('Exp'),
  Neg: unary('Neg'),
  Sqrt: unary('Sqrt'),
  Tanh: unary('Tanh'),
  Identity: unary('Identity'),
  Rsqrt: (g, [x]) => ({ name: g.op('Reciprocal', [g.op('Sqrt', [x.name])]), shape: x.shape, dtype: x.dtype }),
  Square: (g, [x]) => ({ name: g.op('Mul', [x.name, x.name]), shape: x.shape, dtype: x.dtype }),
  Softmax: (g, [x], a) => ({ name: g.op('Softmax', [x.name], { axis: axisOf((a.dim as number) ?? -1, x.shape.length) }), shape: x.shape, dtype: x.dtype }),
  Mean: reduce('ReduceMean'),
  Sum: reduce('ReduceSum'),
  Reshape: (g, [x], a) => reshape(g, x, a.shape as number[]),
  Transpose: (g, [x], a) => {
    const perm = a.perm as number[];
    return { name: g.op('Transpose', [x.name], { perm }), shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
  },
  Slice: (g, [x], a) => {
    const r = x.shape.length;
    const begin = ([] as number[]).concat(a.begin as number).concat(Array(Math.max(0, r - ([] as number[]).concat(a.begin as number).length)).fill(0));
    const sz = ([] as number[]).concat(a.size as number);
    const shape = x.shape.map((d, i) => (sz[i] === undefined || sz[i] === -1 ? d - begin[i] : sz[i]));
    const ends = shape.map((s, i) => begin[i] + s);
    return { name: g.op('Slice', [x.name, g.ints(begin), g.ints(ends), g.ints([...Array(r).keys()])]), shape, dtype: x.dtype };
  },
  Concat: (g, xs, a) => concat(g, xs, a.axis as number),
  Pack: (g, xs, a) => {
    const axis = axisOf(a.axis as number, xs[0].shape.length + 1);
    const lifted = xs.map((v) => reshape(g, v, [...v.shape.slice(0, axis), 1, ...v.shape.slice(axis)]));
    return concat(g, lifted, axis);
  },
  Unpack: (g, [x], a) => {
    const axis = axisOf(a.axis as number, x.shape.length);
    return split(g, x, Array(x.shape[axis]).fill(1), axis).map((v) => reshape(g, v, x.shape.filter((_, i) => i !== axis)));
  },
  SplitV: (g, [x], a) => {
    const axis = axisOf(a.axis as number, x.shape.length);
    const n = a.numOrSizeSplits;
    const sizes = typeof n === 'number' ? Array(n).fill(x.shape[axis] / n) : (n as number[]);
    return split(g, x, sizes, axis);
  },
  PadV2: (g, [x], a) => {
    const p = a.paddings as [number, number][];
    const pads = [...p.map((q) => q[0]), ...p.map((q) => q[1])];
    return { name: g.op('Pad', [x.name, g.ints(pads), g.scalar((a.constantValue as number) ?? 0)]), shape: x.shape.map((d, i) => d + p[i][0] + p[i][1]), dtype: x.dtype };
  },
  Tile: (g, [x], a) => {
    const reps = a.reps as number[];
    return { name: g.op('Tile', [x.name, g.ints(reps)]), shape: x.shape.map((d, i) => d * reps[i]), dtype: x.dtype };
  },
  AvgPool: (g, [x], a) => {
    const k = pair(a.filterSize);
    const { pads, strides, out } = window(x.shape, k, a);
    const shape = [x.shape[0], out[0], out[1], x.shape[3]];
    // A window over the whole image is a mean over positions, with no layout change.
    if (out[0] === 1 && out[1] === 1 && k[0] === x.shape[1] && k[1] === x.shape[2] && pads.every((v) => v === 0)) {
      return { name: g.op('ReduceMean', [x.name], { axes: [1, 2], keepdims: 1 }), shape, dtype: x.dtype };
    }
    return { name: nchw(g, x.name, (xn) => g.op('AveragePool', [xn], { kernel_shape: k, pads, strides })), shape, dtype: x.dtype };
  },
  OneHot: (g, [x], a) => {
    // Computed as float from int64 indices (the type pair onnxruntime's CPU OneHot implements), then cast to the tfjs dtype.
    const depth = a.depth as number;
    const values = g.constant(Float32Array.of((a.offValue as number) ?? 0, (a.onValue as number) ?? 1), [2], 'float32');
    let y = g.op('OneHot', [g.op('Cast', [x.name], { to: ELEM.int64 }), g.ints([depth]), values], { axis: -1 });
    const dtype = a.dtype === 'int32' ? 'int32' : 'float32';
    if (dtype === 'int32') y = g.op('Cast', [y], { to: ELEM.int32 });
    return { name: y, shape: [...x.shape, depth], dtype };
  },
  Cast: (g, [x], a) => {
    const to = a.dtype === 'float32' || a.dtype === 'int32' ? ELEM[a.dtype] : undefined;
    if (to === undefined) throw new Error(`onnx graph: cast to ${String(a.dtype)} is not supported`);
    return { name: g.op('Cast', [x.name], { to }), shape: x.shape, dtype: a.dtype as 'float32' | 'int32' };
  },
};
