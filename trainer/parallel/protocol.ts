// Messages between the Trainer (gradient-threads.ts) and its helper threads (gradient-thread.ts).
import type { ErrorRecord } from '../../shared/error-record.ts';
import type { BackendName } from '../../sampler/backend.ts';
import type { TrainConfig } from '../config.ts';
import type { HostBatch } from '../gradients.ts';

/** What a helper builds: the run's network kind and config, and its schedule (TrainSpec's, without the export fields). */
export interface NetworkSpec {
  kind: string;
  model: Record<string, unknown>;
  schedule: Record<string, unknown>;
}

export type ToThread =
  /** Build the run's network and objective on `backend`; parameters arrive as `shapes` in this order with every step. */
  | { type: 'init'; spec: NetworkSpec; config: TrainConfig; backend: BackendName; names: string[]; shapes: number[][] }
  /** Gradients of `batch` at parameter values `values` (in init's order). */
  | { type: 'gradients'; id: number; values: Float32Array[]; batch: HostBatch };

export type FromThread =
  | { type: 'ready'; backend: string }
  | { type: 'gradients'; id: number; loss: number; terms?: number[]; grads: Float32Array[] }
  | { type: 'error'; id: number; error: ErrorRecord };
