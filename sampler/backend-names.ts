// Node's tfjs backend names, in preference order, apart from backend.ts so
// that the CLI's usage text can name them without loading tfjs.
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
