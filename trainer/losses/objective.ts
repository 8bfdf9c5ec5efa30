// What the diffusion Trainer asks of a training objective (DDPM: ddpm.ts;
// VDM: vdm.ts), after google-research/vdm's experiment.py / experiment_vdm.py
// split: the trainer owns data, optimiser, EMA and state; the objective draws
// its own randomness and returns the loss. The sample step that matches each
// objective is the schedule's (shared/schedules, shared/samplers).
import type * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../../shared/models/types.ts';
import type { Rng } from '../../shared/rng.ts';

export interface Objective {
  /**
   * The loss of batch x0 [B, ...] to minimise, with its times and noise drawn
   * from `rng` in a fixed order (so a resumed run draws alike). `terms` are
   * the loss's parts, when it has named ones (VDM: [recon, latent, diffusion]).
   */
  loss(params: Params, x0: tf.Tensor, label: tf.Tensor1D | undefined, rng: Rng): { loss: tf.Scalar; terms?: tf.Tensor1D };
  /** The loss is the variational bound in bits per dimension (validation reports it as bits/dim). */
  readonly bitsPerDim: boolean;
}
