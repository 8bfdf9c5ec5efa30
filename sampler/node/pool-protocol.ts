// Messages between the sampler pool (pool.ts) and its threads (pool-worker.ts).
import type { BackendName } from '../backend.ts';
import type { GenerateOptions, GenerateResult } from '../generate.ts';

export interface ErrorRecord {
  name: string;
  message: string;
  /** ConfigError's field and reason, so the pool can rethrow the same error type. */
  field?: string;
  reason?: string;
}

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
