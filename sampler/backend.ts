// Node's backends and their order, for the one selection mechanism
// (engine-select.ts: each registration is tried once per process; DESIGN §5).
//
// Node tries tensorflow (tfjs-node-gpu, then tfjs-node: optional dependencies
// that need libtensorflow and are often absent), then onnxruntime (the
// optional onnxruntime-node: the sampling networks on native kernels, with
// tfjs wasm for the samplers' own math), then wasm (XNNPACK), then cpu. Work
// that runs tfjs itself (training, encoding) skips onnxruntime. The caller
// may force one; the chosen backend is always reported.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BACKEND_NAMES, TFJS_BACKEND_NAMES, type BackendName } from './backend-names.ts';
import { firstLine, selectEngine, type Candidate, type Selection } from './engine-select.ts';

export { describeChoice } from './engine-select.ts';
import { useNetworkEngine } from './network-engine.ts';

export { BACKEND_NAMES, type BackendName };

export type BackendChoice = Selection<BackendName>;

export interface SelectOptions {
  /** For work that runs tfjs itself (training, encoding): onnxruntime is no candidate. */
  tfjsOnly?: boolean;
  /** Native threads onnxruntime may use per network call (default: every core); a pool of N sampler threads gives each cores / N. */
  threads?: number;
}

/**
 * Backends whose kernels use every core within one call: one sampler thread
 * serves them best (measured: 8 default-model images in 1.9 s on one
 * onnxruntime session with 2 threads, 2.6 s on a pool of two 1-thread ones).
 */
export const MULTICORE_BACKENDS: readonly BackendName[] = ['tensorflow', 'onnxruntime'];

/** Whether an import failed because the package is not installed (an optional dependency left out). */
function notInstalled(e: unknown, pkg: string): boolean {
  return (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(pkg);
}

/** How each Node backend is made available; the order is BACKEND_NAMES. */
function nodeCandidates(opts: SelectOptions): Record<BackendName, Candidate> {
  return {
    tensorflow: {
      async register() {
        // Importing either package registers the 'tensorflow' backend.
        const errors: string[] = [];
        for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
          try {
            await import(pkg);
            return;
          } catch (e) {
            // Usually absent: optional dependencies dropped when libtensorflow could not be downloaded.
            errors.push(`${pkg}: ${notInstalled(e, pkg) ? 'not installed' : firstLine(e)}`);
          }
        }
        throw new Error(errors.join('; '));
      },
      activate: () => activate('tensorflow'),
    },
    onnxruntime: {
      async register() {
        await import('@tensorflow/tfjs-backend-wasm');
        try {
          await import('onnxruntime-node');
        } catch (e) {
          // Absent where optional dependencies were omitted; a native binary that cannot load says why.
          throw new Error(notInstalled(e, 'onnxruntime-node') ? 'onnxruntime-node: not installed' : `onnxruntime-node: ${firstLine(e)}`);
        }
      },
      async activate() {
        await activate('wasm');
        const [ort, { onnxEngine, onnxSelfTest, pickProviders }] = await Promise.all([import('onnxruntime-node'), import('./onnx/engine.ts')]);
        // Its failures reach us as exceptions; its own log (read once, at the first session) would only repeat them on stderr.
        ort.env.logLevel = 'fatal';
        await onnxSelfTest(ort);
        const providers = await pickProviders(ort);
        useNetworkEngine(onnxEngine(ort, { threads: opts.threads, providers: providers.use }));
        return providers.detail;
      },
    },
    wasm: {
      async register() {
        await import('@tensorflow/tfjs-backend-wasm');
      },
      activate: () => activate('wasm'),
    },
    cpu: {
      async register() {}, // registered by the static import above
      activate: () => activate('cpu'),
    },
  };
}

/** Makes tfjs backend `name` the active one, with tfjs running the network calls too. */
async function activate(name: 'tensorflow' | 'wasm' | 'cpu'): Promise<void> {
  useNetworkEngine(undefined);
  if (!(await tf.setBackend(name))) throw new Error('tf.setBackend returned false');
  await tf.ready();
}

export function parseBackendName(value: string): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new Error(`--backend must be one of ${BACKEND_NAMES.join(', ')}; got "${value}"`);
  }
  return value as BackendName;
}

/** The last selection, for ensureBackend. */
let selected: Promise<BackendChoice> | undefined;

/**
 * Activates `force` if given (failing loudly if it cannot), otherwise the
 * first backend in Node's preference order that initialises.
 */
export function selectBackend(force?: BackendName, opts: SelectOptions = {}): Promise<BackendChoice> {
  tf.enableProdMode(); // for library users too: no debug checks, and no "running in Node.js" banner
  const order = opts.tfjsOnly ? TFJS_BACKEND_NAMES : BACKEND_NAMES;
  if (force && !(order as readonly string[]).includes(force)) {
    return Promise.reject(new Error(`--backend ${force} runs only the sampling networks; this needs one of ${order.join(', ')}`));
  }
  selected = selectEngine(order, nodeCandidates(opts), { force, what: 'tfjs backend' });
  return selected;
}

/**
 * The backend selected so far, else `selectBackend(force)` now: for entries a
 * library user may call without selecting one (tfjs would otherwise run on its
 * plain-JS cpu kernels, about 30x slower than wasm here).
 */
export function ensureBackend(force?: BackendName): Promise<BackendChoice> {
  return selected ?? selectBackend(force);
}
