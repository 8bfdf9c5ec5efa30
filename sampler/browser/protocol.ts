// The page's calls to its Web Worker (generator.ts -> web-worker.ts), in the
// one protocol of sampler/protocol.ts: `generate` answers with images,
// reporting backend, download and step progress; `memory` with a report;
// `unload` and `cancel` with done. Type-only: nothing here pulls tfjs into
// the page's bundle.
import type { Call, CancelCall, Reply as ThreadReply } from '../protocol.ts';
import type { GeneratedImage } from '../encode/types.ts';
import type { GenerateOptions } from '../generate.ts';

export const BROWSER_BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type BrowserBackendName = (typeof BROWSER_BACKENDS)[number];

/** Which backend runs, and why the ones before it in the order were passed over. */
export interface BackendReport {
  name: BrowserBackendName;
  /** e.g. "webgpu: navigator.gpu is missing", "webgpu: device lost (destroyed)". */
  skipped: string[];
  /** wasm: XNNPACK threads (1 unless the page is cross-origin isolated). */
  threads?: number;
  /** webgpu: the adapter's vendor and architecture, e.g. "google swiftshader". */
  adapter?: string;
  /** The self-test's largest deviation from its reference values. */
  selfTestError: number;
}

/** Generation options as the page may send them (the worker validates them). */
export type BrowserGenerateOptions = Omit<GenerateOptions, 'batchSize'>;

export type Progress =
  /** The backend was chosen, or changed after a WebGPU device loss (then generation restarts). */
  | { phase: 'backend'; backend: BackendReport }
  /** Shard bytes: `loaded` of `total` over all shards; `cached` when `file` came from the Cache API. */
  | { phase: 'download'; file: string; loaded: number; total: number; cached: boolean }
  | { phase: 'steps'; step: number; totalSteps: number };

export interface BrowserGenerateResult {
  images: GeneratedImage[];
  backend: BackendReport;
  sampler: string;
  steps: number;
  seed: number;
  /** Wall-clock milliseconds: loading the model (0 when it was already loaded), and generating. */
  timings: { loadMs: number; generateMs: number };
  /** Shards read from the Cache API, and fetched from the network, for this call. */
  shards: { cached: number; fetched: number };
}

export interface MemoryReport {
  backend: BrowserBackendName | null;
  numTensors: number;
  numBytes: number;
  /** Models kept loaded for the next call. */
  loadedModels: number;
}

export type Request =
  | Call<{ type: 'generate'; model: string; options: BrowserGenerateOptions }>
  | CancelCall
  | Call<{ type: 'memory' }>
  /** Frees every loaded model. */
  | Call<{ type: 'unload' }>;

/** How the page sets the worker up; sent once, first. */
export interface WorkerInit {
  type: 'init';
  /** Base URL of the bundle's files (the .wasm binaries). */
  assets: string;
  /** Forces a backend; otherwise webgpu, wasm, cpu: the first that passes the self-test. */
  backend?: BrowserBackendName;
}



export type Reply = ThreadReply<BrowserGenerateResult, Progress> | { id: number; type: 'memory'; memory: MemoryReport };
