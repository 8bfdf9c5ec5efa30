// What the app asks of whatever produces samples: the local tfjs sampler on
// Node, a proxy to a GPU origin on Workers. The app plans the request first,
// so a service sees only complete, in-limit jobs.

import type { RequestPlan } from '../shared/request-plan.ts';


export const OUTPUTS = ['png', 'nifti', 'json'] as const;
export type Output = (typeof OUTPUTS)[number];

/** A planned request (shared/request-plan.ts) and the encoding the client asked for. */
export type SampleJob = RequestPlan & { output: Output };

export interface SampleProgress {
  step: number;
  totalSteps: number;
}

export interface SampleResult {
  contentType: string;
  /** Backed by a plain ArrayBuffer (what a Response body accepts). */
  body: Uint8Array<ArrayBuffer>;
  /** Suggested file name (Content-Disposition). */
  filename: string;
}

export interface SampleService {
  /**
   * Generates and encodes. Must stop soon after `signal` aborts (client gone,
   * time limit) and reject with its reason. Throws HttpError for failures
   * with a client-facing status; anything else becomes a 500.
   */
  sample(
    modelId: string,
    job: SampleJob,
    hooks: { signal: AbortSignal; onProgress?: (p: SampleProgress) => void },
  ): Promise<SampleResult>;
}
