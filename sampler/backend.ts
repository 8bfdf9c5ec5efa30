// Backend selection, detected once per process (DESIGN §5).
//
// Node tries tensorflow (tfjs-node-gpu, then tfjs-node: optional dependencies
// that need libtensorflow and are often absent), then wasm (XNNPACK), then
// cpu. The caller may force one; the chosen backend is always reported.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendChoice {
  name: BackendName;
  /** Why earlier candidates were passed over, e.g. "tensorflow: module not installed". */
  skipped: string[];
}

/** Registers a backend with tfjs; throws with the reason it is unavailable. */
async function register(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow': {
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
    }
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return;
    case 'cpu':
      return; // registered by the static import above
  }
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

export function parseBackendName(value: string): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new Error(`--backend must be one of ${BACKEND_NAMES.join(', ')}; got "${value}"`);
  }
  return value as BackendName;
}

/**
 * Activates `force` if given (failing loudly if it cannot), otherwise the
 * first backend in Node's preference order that initialises.
 */
export async function selectBackend(force?: BackendName): Promise<BackendChoice> {
  const order: BackendName[] = force ? [force] : [...BACKEND_NAMES];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      await register(name);
      if (!(await tf.setBackend(name))) throw new Error('tf.setBackend returned false');
      await tf.ready();
      return { name, skipped };
    } catch (e) {
      skipped.push(`${name}: ${firstLine(e)}`);
    }
  }
  throw new Error(`no tfjs backend could be initialised (${skipped.join('; ')})`);
}
