// The network calls of generate() on onnxruntime-node (NetworkEngine,
// sampler/network-engine.ts). A model's networks (the denoiser, a latent
// model's decoder) are recorded as ONNX graphs from its loaded parameters
// (network.ts) once per input shape, and their sessions live until the model
// is disposed. The time/label path stays on tfjs (GridConditioning computes
// it once per grid time) and enters each call as the FiLM inputs; noise,
// samplers and the codebook snap stay on tfjs too.
import * as tf from '@tensorflow/tfjs-core';
import type * as Ort from 'onnxruntime-node';
import { disposeConditioned } from '../../shared/models/unet.ts';
import type { Conditioned } from '../../shared/models/types.ts';
import type { Net } from '../../shared/samplers/index.ts';
import { firstLine } from '../engine-select.ts';
import type { LoadedModel } from '../load.ts';
import { callInputs, type NetworkEngine } from '../network-engine.ts';
import { checkSelfTest, selfTestNetwork } from '../self-test.ts';
import { decoderGraph, filmInputs, networkGraph } from './network.ts';
import { recordGraph } from './record.ts';

type OrtModule = typeof Ort;

export const ONNX_ENGINE = 'onnxruntime';

/** Sessions kept per model (one per network and batch shape); the least recently used idle one goes first. */
const MAX_SESSIONS_PER_MODEL = 8;

let open = 0;

/** Sessions created and not yet released, over all models (for leak tests). */
export function openSessions(): number {
  return open;
}

interface Entry {
  session: Promise<Ort.InferenceSession>;
  /** Calls running on it; an entry in use is never evicted. */
  users: number;
}

/** Which of a model's networks a session runs. */
type Part = 'denoiser' | 'decoder';

/** One model's sessions by network and input shape, most recently used last. */
class Sessions {
  private readonly byShape = new Map<string, Entry>();
  private disposed = false;

  constructor(
    private readonly ort: OrtModule,
    private readonly m: LoadedModel,
    private readonly options: Ort.InferenceSession.SessionOptions,
  ) {
    m.onDispose(() => {
      this.disposed = true;
      for (const e of this.byShape.values()) release(e.session);
      this.byShape.clear();
    });
  }

  async run(part: Part, shape: readonly number[], feeds: Record<string, Ort.Tensor>): Promise<Float32Array> {
    if (this.disposed) throw new Error(`onnxruntime: model "${this.m.manifest.name}" was disposed`);
    const key = `${part} ${shape.join('x')}`;
    let e = this.byShape.get(key);
    if (e) this.byShape.delete(key); // re-inserted below as the most recent
    else e = { session: this.create(part, shape), users: 0 };
    this.byShape.set(key, e);
    e.users++;
    this.evict();
    try {
      const session = await e.session;
      const out = await session.run(feeds);
      return out.out0.data as Float32Array;
    } finally {
      e.users--;
    }
  }

  private async create(part: Part, shape: readonly number[]): Promise<Ort.InferenceSession> {
    const { model, params, int8Weights } = this.m;
    const bytes = part === 'denoiser' ? networkGraph(model, params, shape, int8Weights).bytes : decoderGraph(model, params, shape, int8Weights);
    const session = await this.ort.InferenceSession.create(bytes, this.options);
    open++;
    return session;
  }

  private evict(): void {
    for (const [key, e] of this.byShape) {
      if (this.byShape.size <= MAX_SESSIONS_PER_MODEL) return;
      if (e.users > 0) continue;
      this.byShape.delete(key);
      release(e.session);
    }
  }
}

function release(session: Promise<Ort.InferenceSession>): void {
  session.then(
    (s) => {
      open--;
      return s.release();
    },
    () => {}, // a failed creation was reported to its caller and holds nothing
  ).catch(() => {});
}

/** Float32 values of a tensor on a tfjs backend, read once per tensor (FiLM terms are reused every step). */
const hostValues = new WeakMap<tf.Tensor, Float32Array>();
async function valuesOf(t: tf.Tensor): Promise<Float32Array> {
  let v = hostValues.get(t);
  if (!v) {
    v = (await t.data()) as Float32Array;
    hostValues.set(t, v);
  }
  return v;
}

/** The network's own time/label path for a call at t (the caller owns the result). */
function condition(m: LoadedModel, batch: number, t: number, labels?: readonly number[]): Conditioned {
  const inputs = callInputs(batch, t, labels);
  try {
    return m.model.condition(m.params, inputs.t, inputs.cond);
  } finally {
    tf.dispose([inputs.t, inputs.cond?.label]);
  }
}

export interface OnnxEngineOptions {
  /** onnxruntime's intra-op threads per call (default: its own choice, every physical core). */
  threads?: number;
  /** Execution providers in preference order (default: cpu). */
  providers?: string[];
}

/** The engine's session settings. */
export function sessionOptions(opts: OnnxEngineOptions = {}): Ort.InferenceSession.SessionOptions {
  return {
    logSeverityLevel: 3,
    interOpNumThreads: 1,
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    ...(opts.providers ? { executionProviders: opts.providers } : {}),
    // int8 weights enter as DequantizeLinear of int8 initializers. Without this, onnxruntime keeps them
    // for QDQ fusion and dequantises (and transposes) every weight in every call: 25 ms against 16 ms per
    // default-model call here; with it they fold to float32 constants at load, the values tfjs computes.
    extra: { session: { disable_quant_qdq: '1' } },
  };
}

export function onnxEngine(ort: OrtModule, opts: OnnxEngineOptions = {}): NetworkEngine {
  const options = sessionOptions(opts);
  const sessionsOf = new WeakMap<LoadedModel, Sessions>();
  const sessions = (m: LoadedModel): Sessions => {
    let s = sessionsOf.get(m);
    if (!s) {
      s = new Sessions(ort, m, options);
      sessionsOf.set(m, s);
    }
    return s;
  };
  return {
    name: ONNX_ENGINE,
    net(m, conditioning): Net {
      const s = sessions(m);
      return async (x, t, labels) => {
        const batch = x.shape[0];
        const grid = conditioning.get(t, batch, labels);
        // Off the grid the network conditions itself: computed here, on tfjs, and freed after the call.
        const own = grid ? undefined : condition(m, batch, t, labels);
        try {
          const feeds: Record<string, Ort.Tensor> = { x: new ort.Tensor('float32', (await x.data()) as Float32Array, x.shape) };
          for (const [i, f] of (grid ?? own!).entries()) {
            const [scale, shift] = filmInputs(i);
            feeds[scale] = new ort.Tensor('float32', grid ? await valuesOf(f.scale) : ((await f.scale.data()) as Float32Array), f.scale.shape);
            feeds[shift] = new ort.Tensor('float32', grid ? await valuesOf(f.shift) : ((await f.shift.data()) as Float32Array), f.shift.shape);
          }
          return tf.tensor(await s.run('denoiser', x.shape, feeds), x.shape);
        } finally {
          if (own) disposeConditioned(own);
        }
      };
    },
    decoder(m) {
      const s = sessions(m);
      const out = m.model.output!;
      return async (codes) => {
        const feeds = { codes: new ort.Tensor('float32', (await codes.data()) as Float32Array, codes.shape) };
        return tf.tensor(await s.run('decoder', codes.shape, feeds), [codes.shape[0], ...out.shape!, out.channels]);
      };
    },
  };
}

/** The numeric self-test (sampler/self-test.ts) recorded as a graph and run with these session options. */
async function selfTestWith(ort: OrtModule, options: Ort.InferenceSession.SessionOptions): Promise<number> {
  const session = await ort.InferenceSession.create(recordGraph('self-test', () => [selfTestNetwork()]), options);
  try {
    return checkSelfTest((await session.run({})).out0.data as Float32Array);
  } finally {
    await session.release();
  }
}

/** The self-test on onnxruntime's CPU provider: resolves to its largest deviation, throws why it fails. */
export function onnxSelfTest(ort: OrtModule): Promise<number> {
  return selfTestWith(ort, sessionOptions({ threads: 1 }));
}

/**
 * The execution providers the engine uses: CUDA first where its provider
 * libraries load and it passes the self-test (they are there only when the
 * user installed onnxruntime-node's CUDA files, a download `.npmrc` skips),
 * else the CPU provider; `detail` says which, and why not CUDA.
 */
export async function pickProviders(ort: OrtModule): Promise<{ use: string[]; detail: string }> {
  if (!ort.listSupportedBackends().some((b) => b.name === 'cuda')) return { use: ['cpu'], detail: 'cpu (cuda: not in this build)' };
  try {
    await selfTestWith(ort, sessionOptions({ threads: 1, providers: ['cuda'] }));
    return { use: ['cuda', 'cpu'], detail: 'cuda, then cpu' };
  } catch (e) {
    return { use: ['cpu'], detail: `cpu (cuda: ${firstLine(e)})` };
  }
}
