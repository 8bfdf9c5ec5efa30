// The contract between samplers and the network they drive.
import type * as tf from '@tensorflow/tfjs-core';
import type { GridSpacing, TimePoint } from '../schedules/types.ts';

import type { Denoised } from '../schedules/prediction.ts';

export type { Denoised };

/**
 * Runs the network on x at tp; the caller owns (and disposes) the result.
 * Asynchronous where the network runs outside tfjs (onnxruntime).
 */
export type Denoiser = (x: tf.Tensor, tp: TimePoint) => Denoised | Promise<Denoised>;

export interface SampleRequest {
  denoiser: Denoiser;
  /** The path from noise to data: grid[0].t = 1 > ... > grid[last].t = 0. */
  grid: TimePoint[];
  /** x at grid[0], e.g. sigma_1 * N(0, I) (not disposed by the sampler). */
  xT: tf.Tensor;
  /** Fresh N(0, I) noise of x's shape for step k (disposed by the sampler). */
  noise: (step: number) => tf.Tensor;
  onStep?: (step: number, total: number) => void;
  /** Checked between steps; on abort every intermediate is freed and the AbortError rethrown. */
  signal?: AbortSignal;
}

export interface Sampler {
  readonly name: string;
  /** The grid spacing this sampler is accurate with at few steps. */
  readonly defaultSpacing: GridSpacing;
  /** Returns x at the last grid point (owned by the caller). */
  sample(req: SampleRequest): Promise<tf.Tensor>;
}
