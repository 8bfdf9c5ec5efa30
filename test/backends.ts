// The backends every shared suite runs on. tensorflow (tfjs-node) is included
// only when it initialises on this machine; otherwise each suite records why.
import { selectBackend, type BackendName } from '../sampler/backend.ts';

export const TEST_BACKENDS: BackendName[] = ['cpu', 'wasm'];

/** Switches tfjs to `name` (registering it first); throws if it cannot. */
export async function useBackend(name: BackendName): Promise<void> {
  await selectBackend(name);
}
