// The backends every shared suite runs on. tensorflow (tfjs-node) is included
// only when it initialises on this machine; otherwise each suite records why.
import { selectBackend, type BackendName } from '../sampler/backend.ts';

export const TEST_BACKENDS: BackendName[] = ['cpu', 'wasm'];

/** Whether the optional onnxruntime-node is installed (npm ci installs it; --omit=optional leaves it out). */
export const HAS_ONNXRUNTIME = await import('onnxruntime-node').then(
  () => true,
  () => false,
);

/** The engines generate() runs on: the tfjs backends, and onnxruntime for the network calls where it is installed. */
export const SAMPLING_BACKENDS: BackendName[] = [...TEST_BACKENDS, ...(HAS_ONNXRUNTIME ? (['onnxruntime'] as const) : [])];

/** Switches tfjs to `name` (registering it first); throws if it cannot. */
export async function useBackend(name: BackendName): Promise<void> {
  await selectBackend(name);
}
