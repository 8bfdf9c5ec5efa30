// The one message protocol between a caller and a generation thread: the
// Node pool and its threads (node/pool.ts <-> node/pool-thread.ts) and the
// page and its Web Worker (browser/generator.ts <-> browser/web-worker.ts).
// Every call carries an id the caller chose; the thread answers it with any
// number of progress replies and then exactly one final reply (a result, an
// error as an ErrorRecord, or a plain done), each naming the call's id. A
// cancel is a call of its own naming the call it stops. Type-only.
import type { ErrorRecord } from '../shared/error-record.ts';

/** A call: one of the thread's call types, with the caller's id. */
export type Call<C extends { type: string }> = C & { id: number };

/** Stops call `target` (its final reply is then an error naming the cancellation); answered with done. */
export interface CancelCall {
  id: number;
  type: 'cancel';
  target: number;
}

/** The replies to calls that produce `Result` and report `Progress`. */
export type Reply<Result, Progress> =
  | { id: number; type: 'progress'; progress: Progress }
  | { id: number; type: 'result'; result: Result }
  | { id: number; type: 'error'; error: ErrorRecord }
  | { id: number; type: 'done' };

