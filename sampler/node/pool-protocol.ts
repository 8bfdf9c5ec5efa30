// Messages between the sampler pool (pool.ts) and its threads (pool-worker.ts).
import type { ErrorRecord } from '../../shared/error-record.ts';
import type { BackendName } from '../backend.ts';
import type { GenerateOptions, GenerateResult } from '../generate.ts';


export type ToWorker =
  | { type: 'init'; model: string; backend?: BackendName }
  | { type: 'generate'; id: number; options: GenerateOptions }
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'failed'; error: ErrorRecord }
  | { type: 'progress'; id: number; step: number; totalSteps: number }
  | { type: 'done'; id: number; result: GenerateResult }
  | { type: 'error'; id: number; error: ErrorRecord };
