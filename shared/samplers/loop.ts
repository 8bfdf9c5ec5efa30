// The step loop every sampler shares: abort checks, progress, yielding to the
// event loop (so a signal can fire between steps) and freeing each old state.
import * as tf from '@tensorflow/tfjs-core';
import type { TimePoint } from '../schedules/types.ts';
import type { SampleRequest } from './types.ts';

const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise((resolve) => setImmediate(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Runs `step` from grid[k] to grid[k+1] for every k. `step` returns the new x
 * and must not dispose its input; the loop disposes each superseded x.
 * `cleanup` frees sampler state (e.g. a multistep history) on exit, success or not.
 */
export async function runSteps(
  req: SampleRequest,
  step: (x: tf.Tensor, from: TimePoint, to: TimePoint, k: number) => tf.Tensor | Promise<tf.Tensor>,
  cleanup: () => void = () => {},
): Promise<tf.Tensor> {
  const { grid, signal, onStep } = req;
  if (grid.length < 2) throw new Error(`sampler: the time grid needs at least 2 points, got ${grid.length}`);
  const total = grid.length - 1;
  let x = tf.clone(req.xT);
  try {
    for (let k = 0; k < total; k++) {
      signal?.throwIfAborted();
      const next = await step(x, grid[k], grid[k + 1], k);
      x.dispose();
      x = next;
      onStep?.(k + 1, total);
      await yieldToEventLoop();
    }
    signal?.throwIfAborted();
    return x;
  } catch (e) {
    x.dispose();
    throw e;
  } finally {
    cleanup();
  }
}

/** Half-log-SNR lambda = log(alpha / sigma) (DPM-Solver's time variable). */
export function lambdaOf(p: TimePoint): number {
  return Math.log(p.alpha) - Math.log(p.sigma);
}

/** sum_i c_i * t_i for scalar c_i, in one tidy; terms with c = 0 or no tensor are skipped. */
export function combine(...terms: [number, tf.Tensor | undefined][]): tf.Tensor {
  return tf.tidy(() => {
    const live = terms.filter((p): p is [number, tf.Tensor] => p[0] !== 0 && p[1] !== undefined);
    if (live.length === 0) return tf.zerosLike(terms[0][1]!);
    const [[c0, t0], ...rest] = live;
    return rest.reduce<tf.Tensor>((acc, [c, t]) => tf.add(acc, tf.mul(t, c)), tf.mul(t0, c0));
  });
}
