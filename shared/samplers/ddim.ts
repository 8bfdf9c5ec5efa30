// DDIM (Song et al. 2021, eq. 12) on any subsequence of the grid:
//   x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z,
//   c = eta * sqrt(posterior variance)  (eta = 0: deterministic; eta = 1: DDPM-like).
import * as tf from '@tensorflow/tfjs-core';
import { posterior } from './ddpm.ts';
import { combine, runSteps } from './loop.ts';
import type { SampleRequest, Sampler } from './types.ts';

export function createDdim(eta: number): Sampler {
  if (!(eta >= 0 && eta <= 1)) throw new Error(`sampler.eta must be in [0, 1], got ${eta}`);
  return {
    name: 'ddim',
    defaultSpacing: 'time',
    sample(req: SampleRequest) {
      return runSteps(req, async (x, from, to, k) => {
        const { x0, eps } = await req.denoiser(x, from);
        const c = eta * posterior(from, to).std;
        const z = c > 0 ? req.noise(k) : undefined;
        const next = combine([to.alpha, x0], [Math.sqrt(Math.max(0, to.sigma ** 2 - c ** 2)), eps], [c, z]);
        tf.dispose([x0, eps, z]);
        return next;
      });
    },
  };
}
