// DDPM ancestral sampling (Ho et al. 2020, eq. 6-7), written for any pair of
// grid points s < t so it also runs on a strided grid:
//   alpha_{t|s} = alpha_t / alpha_s,  sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2
//   mu = (alpha_{t|s} sigma_s^2 / sigma_t^2) x_t + (alpha_s sigma_{t|s}^2 / sigma_t^2) x0_hat
//   var = sigma_{t|s}^2 sigma_s^2 / sigma_t^2
// For consecutive discrete steps this is exactly DDPM's posterior q(x_{t-1} | x_t, x0)
// with coefficients sqrt(abar_{t-1}) beta_t / (1 - abar_t) and sqrt(alpha_t)(1 - abar_{t-1}) / (1 - abar_t).
import * as tf from '@tensorflow/tfjs-core';
import type { TimePoint } from '../schedules/types.ts';
import { combine, runSteps } from './loop.ts';
import type { SampleRequest, Sampler } from './types.ts';

export function posterior(from: TimePoint, to: TimePoint): { cx: number; cx0: number; std: number } {
  const alphaTs = from.alpha / to.alpha;
  const sigma2Ts = from.sigma ** 2 - alphaTs ** 2 * to.sigma ** 2;
  const sigma2T = from.sigma ** 2;
  return {
    cx: (alphaTs * to.sigma ** 2) / sigma2T,
    cx0: (to.alpha * sigma2Ts) / sigma2T,
    std: Math.sqrt(Math.max(0, (sigma2Ts * to.sigma ** 2) / sigma2T)),
  };
}

export const ddpm: Sampler = {
  name: 'ddpm',
  defaultSpacing: 'time',
  sample(req: SampleRequest) {
    return runSteps(req, async (x, from, to, k) => {
      const { x0, eps } = await req.denoiser(x, from);
      eps.dispose();
      const { cx, cx0, std } = posterior(from, to);
      const z = std > 0 ? req.noise(k) : undefined;
      const next = combine([cx, x], [cx0, x0], [std, z]);
      tf.dispose([x0, z]);
      return next;
    });
  },
};
