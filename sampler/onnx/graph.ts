// An ONNX graph under construction: named values, nodes, constant
// initializers, graph inputs and outputs; serialised with onnx-proto (the
// ONNX protobuf definitions compiled for JavaScript), never by hand.
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;

/** The opset the translations in ops.ts are written for (ONNX 1.12, which onnxruntime 1.30 runs). */
export const OPSET = 17;

export type ElemType = 'float32' | 'int32' | 'int64' | 'int8';

/** ONNX's TensorProto.DataType of each element type (Cast's `to`, tensor and value types). */
export const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  int8: onnx.TensorProto.DataType.INT8,
};

/** Attribute values: integers, integer lists, strings, or a float as { f }. */
export type AttrValue = number | number[] | string | { f: number };

/** A value in the graph: its name and static shape. */
export interface Value {
  name: string;
  shape: readonly number[];
  dtype: ElemType;
}

export class GraphBuilder {
  private readonly nodes: Onnx.INodeProto[] = [];
  private readonly initializers: Onnx.ITensorProto[] = [];
  private readonly inputs: Onnx.IValueInfoProto[] = [];
  private readonly outputs: Onnx.IValueInfoProto[] = [];
  private counter = 0;
  /** Constants by content key, so repeated shape vectors and scalars are one initializer. */
  private readonly constants = new Map<string, string>();

  /** A fresh value name with `hint` in it (names only need to be unique). */
  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, shape: readonly number[], dtype: ElemType = 'float32'): Value {
    this.inputs.push(valueInfo(name, shape, dtype));
    return { name, shape, dtype };
  }

  output(v: Value, name: string): void {
    this.node('Identity', [v.name], [name]);
    this.outputs.push(valueInfo(name, v.shape, v.dtype));
  }

  /** A constant tensor; integer vectors and scalars with the same content share one initializer. */
  constant(data: Float32Array | Int32Array | Int8Array | bigint[], shape: readonly number[], dtype: ElemType, hint = 'const'): string {
    const small = data.length <= 16;
    const key = small ? `${dtype}[${shape}]:${Array.from(data as ArrayLike<number | bigint>).join(',')}` : undefined;
    const known = key && this.constants.get(key);
    if (known) return known;
    const name = this.fresh(hint);
    const t: Onnx.ITensorProto = { name, dims: [...shape], dataType: ELEM[dtype] };
    if (dtype === 'int64') t.int64Data = (data as bigint[]).map((v) => Number(v));
    else {
      const typed = data as Float32Array | Int32Array | Int8Array;
      t.rawData = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    }
    this.initializers.push(t);
    if (key) this.constants.set(key, name);
    return name;
  }

  /** An int64 vector constant (shapes, axes, pads: ONNX takes them as int64 tensors). */
  ints(values: readonly number[]): string {
    return this.constant(values.map((v) => BigInt(v)), [values.length], 'int64', 'ints');
  }

  /** A float32 constant stored as per-channel int8 (w = q scale[c] along axis): DequantizeLinear of int8 initializers. */
  dequantized(q: Int8Array, scale: Float32Array, axis: number, shape: readonly number[]): string {
    return this.op('DequantizeLinear', [this.constant(q, shape, 'int8', 'q'), this.constant(scale, [scale.length], 'float32', 'scale')], { axis });
  }

  scalar(value: number): string {
    return this.constant(Float32Array.of(value), [], 'float32', 'scalar');
  }

  node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    this.nodes.push({ opType: op, input: inputs, output: outputs, name: this.fresh(op), attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
  }

  /** One node with one fresh output: its name. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const out = this.fresh(op.toLowerCase());
    this.node(op, inputs, [out], attrs);
    return out;
  }

  /** The serialised ModelProto. */
  encode(graphName: string): Uint8Array {
    // Only what the outputs depend on: parameters the recorded path never reads (e.g. the conditioning MLP,
    // computed outside the graph) and their dequantisation nodes are left out. Nodes are in recording order,
    // so one backward pass finds them.
    const live = new Set(this.outputs.map((o) => o.name!));
    const kept = [...this.nodes].reverse().filter((n) => {
      if (!n.output!.some((o) => live.has(o))) return false;
      for (const i of n.input!) live.add(i);
      return true;
    });
    const initializer = this.initializers.filter((t) => live.has(t.name!));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'medsynth',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: { name: graphName, node: kept.reverse(), initializer, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, shape: readonly number[], dtype: ElemType): Onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: ELEM[dtype], shape: { dim: shape.map((d) => ({ dimValue: d })) } } } };
}

function attribute(name: string, v: AttrValue): Onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.FLOAT, f: v.f };
}
