// Node's backends and their order, for the one selection mechanism
// (engine-select.ts: each registration is tried once per process; DESIGN §5).
//
// Node tries tensorflow (tfjs-node-gpu, then tfjs-node: optional dependencies
// that need libtensorflow and are often absent), then wasm (XNNPACK), then
// cpu. The caller may force one; the chosen backend is always reported.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BACKEND_NAMES, type BackendName } from './backend-names.ts';
import { firstLine, selectEngine, type Candidate, type Selection } from './engine-select.ts';

export { BACKEND_NAMES, type BackendName };

export type BackendChoice = Selection<BackendName>;

/** How each Node backend is made available; the order is BACKEND_NAMES. */
const NODE_CANDIDATES: Record<BackendName, Candidate> = {
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
          const absent = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(pkg);
          errors.push(`${pkg}: ${absent ? 'not installed' : firstLine(e)}`);
        }
      }
      throw new Error(errors.join('; '));
    },
    activate: () => activate('tensorflow'),
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

async function activate(name: BackendName): Promise<void> {
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
export function selectBackend(force?: BackendName): Promise<BackendChoice> {
  tf.enableProdMode(); // for library users too: no debug checks, and no "running in Node.js" banner
  selected = selectEngine(BACKEND_NAMES, NODE_CANDIDATES, { force, what: 'tfjs backend' });
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
