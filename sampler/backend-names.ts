// Node's backend names, in preference order, apart from backend.ts so
// that the CLI's usage text can name them without loading tfjs.
export const BACKEND_NAMES = ['tensorflow', 'onnxruntime', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The backends that run tfjs itself, for training and encoding (onnxruntime runs only the sampling networks). */
export const TFJS_BACKEND_NAMES = BACKEND_NAMES.filter((n) => n !== 'onnxruntime');
