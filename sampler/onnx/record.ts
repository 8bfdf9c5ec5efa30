// Records a tfjs computation as an ONNX graph: a tfjs backend ('onnx-graph')
// whose tensors are graph values and whose kernels are ops.ts's
// translations. Running a model's apply() on it yields the same network as
// the tfjs backends run, written down once (shared/models).
//
// Shapes are static: a graph is recorded for one input shape (batch size).
import * as tf from '@tensorflow/tfjs-core';
import type { Int8Form } from '../../shared/checkpoint/index.ts';
import { GraphBuilder, type ElemType, type Value } from './graph.ts';
import { OPS } from './ops.ts';

export const RECORD_BACKEND = 'onnx-graph';

type DataId = object;

/** The order in which a kernel's named inputs become node inputs. */
const INPUT_ORDER = ['x', 'a', 'b', 'filter', 'bias', 'logits', 'value', 'indices', 'scale', 'shift'];

class GraphBackend extends tf.KernelBackend {
  builder: GraphBuilder | undefined;
  /** Constant values to store as int8 in this recording (Recorder.int8), by their data array. */
  int8 = new WeakMap<object, Int8Form>();
  readonly values = new WeakMap<DataId, Value & { refs: number }>();
  private count = 0;

  get g(): GraphBuilder {
    if (!this.builder) throw new Error(`the ${RECORD_BACKEND} backend only runs inside recordGraph()`);
    return this.builder;
  }

  bind(value: Value, id: DataId = {}, refs = 1): DataId {
    this.values.set(id, { ...value, refs });
    this.count++;
    return id;
  }

  value(id: DataId): Value {
    const v = this.values.get(id);
    if (!v) throw new Error('onnx graph: a tensor from outside the recording reached a kernel');
    return v;
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): DataId {
    const q = this.int8.get(values);
    const name = q ? this.g.dequantized(q.q, q.scale, q.axis, shape) : this.g.constant(asTyped(values, dtype), shape, elem(dtype));
    return this.bind({ name, shape, dtype: elem(dtype) });
  }

  override move(id: DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.bind({ name: this.g.constant(asTyped(values, dtype), shape, elem(dtype)), shape, dtype: elem(dtype) }, id, refCount);
  }

  override refCount(id: DataId): number {
    return this.values.get(id)?.refs ?? 0;
  }

  override incRef(id: DataId): void {
    const v = this.values.get(id);
    if (v) v.refs++;
  }

  override disposeData(id: DataId, force = false): boolean {
    const v = this.values.get(id);
    if (!v) return true;
    if (!force && --v.refs > 0) return false;
    this.values.delete(id);
    this.count--;
    return true;
  }

  override numDataIds(): number {
    return this.count;
  }

  override readSync(): never {
    throw new Error(`onnx graph: a model read a tensor's values while being recorded (only shapes are known)`);
  }

  override read(): Promise<never> {
    return Promise.reject(new Error('onnx graph: values cannot be read while recording'));
  }

  override memory() {
    return { unreliable: true };
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {}
}

function elem(dtype: tf.DataType): ElemType {
  if (dtype === 'float32' || dtype === 'int32') return dtype;
  throw new Error(`onnx graph: dtype ${dtype} is not supported`);
}

function asTyped(values: tf.backend_util.BackendValues, dtype: tf.DataType): Float32Array | Int32Array {
  if (dtype === 'int32') return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
}

let backend: GraphBackend | undefined;

function graphBackend(): GraphBackend {
  if (!backend) {
    const b = new GraphBackend();
    tf.registerBackend(RECORD_BACKEND, () => b, -1); // negative priority: never picked automatically
    for (const [kernelName, translate] of Object.entries(OPS)) {
      tf.registerKernel({
        kernelName,
        backendName: RECORD_BACKEND,
        kernelFunc: ({ inputs, attrs }) => {
          const list = Array.isArray(inputs) ? (inputs as tf.TensorInfo[]) : INPUT_ORDER.flatMap((k) => (inputs[k] ? [inputs[k]!] : []));
          const out = translate(b.g, list.map((t) => b.value(t.dataId)), attrs as Record<string, unknown>);
          const info = (v: Value): tf.TensorInfo => ({ dataId: b.bind(v), shape: [...v.shape], dtype: v.dtype as tf.DataType });
          return Array.isArray(out) ? out.map(info) : info(out);
        },
      });
    }
    backend = b;
  }
  return backend;
}

/** Makes the graph's inputs; any tensor created during the recording (tf.tensor) is a constant. */
export interface Recorder {
  /** A graph input of this shape. */
  input(name: string, shape: number[], dtype?: 'float32' | 'int32'): tf.Tensor;
  /** The constant that tf.tensor(values) makes in this recording is stored as int8 (`values` are its dequantised form). */
  int8(values: Float32Array, form: Int8Form): void;
}

/**
 * Runs `f` on the recording backend and returns the ONNX model of the
 * tensors it returns (outputs "out0", "out1", ...). `f` must be synchronous
 * and read no values; the active tfjs backend is restored afterwards.
 */
export function recordGraph(name: string, f: (r: Recorder) => tf.Tensor[]): Uint8Array {
  const b = graphBackend();
  const previous = tf.getBackend();
  const g = new GraphBuilder();
  b.builder = g;
  b.int8 = new WeakMap();
  // setBackend of an initialised backend switches synchronously (its promise only reports success).
  void tf.setBackend(RECORD_BACKEND);
  try {
    if (tf.getBackend() !== RECORD_BACKEND) throw new Error(`onnx graph: could not switch to the ${RECORD_BACKEND} backend`);
    tf.tidy(() => {
      const recorder: Recorder = {
        input: (n, shape, dtype = 'float32') => {
          const v = g.input(n, shape, dtype);
          return tf.engine().makeTensorFromDataId(b.bind(v), shape, dtype, b);
        },
        int8: (values, form) => b.int8.set(values, form),
      };
      f(recorder).forEach((t, i) => g.output(b.value(t.dataId), `out${i}`));
    });
  } finally {
    b.builder = undefined;
    void tf.setBackend(previous);
  }
  return g.encode(name);
}
