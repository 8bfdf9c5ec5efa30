// What the diffusion Trainer asks of a training objective (DDPM: ddpm.ts;
// VDM: vdm.ts), after google-research/vdm's experiment.py / experiment_vdm.py
// split: the trainer owns data, optimiser, EMA and state; the objective draws
// its own randomness and returns the loss. The sample step that matches each
// objective is the schedule's (shared/samplers, shared/schedules).
import type * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../../shared/models/types.ts';
import type { Rng } from '../../shared/rng.ts';

/**
 * The randomness of one loss evaluation (times, noise) as host arrays whose
 * leading axis is the batch, so a batch can be split by rows between threads
 * (trainer/parallel) and each part sees the draws one thread would.
 */
export type Draws = Record<string, Float32Array | Int32Array>;

export interface Objective {
  /** The draws for a batch x0 of `shape` [B, ...], from `rng` in a fixed order (so a resumed run draws alike). */
  draw(shape: readonly number[], rng: Rng): Draws;
  /**
   * The loss of batch x0 [B, ...] to minimise, a mean over its examples,
   * under `draws` (draw's, or rows of them). `terms` are the loss's parts,
   * when it has named ones (VDM: [recon, latent, diffusion]).
   */
  loss(params: Params, x0: tf.Tensor, label: tf.Tensor1D | undefined, draws: Draws): { loss: tf.Scalar; terms?: tf.Tensor1D };
  /** The loss is the variational bound in bits per dimension (validation reports it as bits/dim). */
  readonly bitsPerDim: boolean;
}

/** Rows [from, to) of draws made for a batch of `batch`. */
export function sliceDraws(draws: Draws, batch: number, from: number, to: number): Draws {
  return Object.fromEntries(
    Object.entries(draws).map(([k, v]) => {
      const per = v.length / batch;
      return [k, v.subarray(from * per, to * per)];
    }),
  );
}
