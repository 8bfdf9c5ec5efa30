// What the app asks of whatever produces samples: the local tfjs sampler on
// Node, a proxy to a GPU origin on Workers. The app validates and resolves
// the request first, so a service sees only complete, in-limit requests.

import type { SamplerName } from '../shared/samplers/names.ts';

export { SAMPLER_NAMES, type SamplerName } from '../shared/samplers/names.ts';

export const OUTPUTS = ['png', 'nifti', 'json'] as const;
export type Output = (typeof OUTPUTS)[number];

/** A validated request with the model's defaults filled in. */
export interface SampleRequest {
  count: number;
  steps: number;
  sampler: SamplerName;
  eta?: number;
  seed: number;
  guidance?: number;
  label?: string | number;
  output: Output;
}

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
    request: SampleRequest,
    hooks: { signal: AbortSignal; onProgress?: (p: SampleProgress) => void },
  ): Promise<SampleResult>;
}
