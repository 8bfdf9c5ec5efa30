// VDM ancestral sampling (Kingma et al. 2021, appendix A.4; google-research/vdm
// `sample`), from t to s = t - 1/T with gamma = log(sigma^2 / alpha^2):
//   c = -expm1(gamma_s - gamma_t)
//   z_s = sqrt(alpha_s^2 / alpha_t^2) (z_t - sigma_t c eps_hat) + sqrt(sigma_s^2 c) eps
import * as tf from '@tensorflow/tfjs-core';
import type { TimePoint } from '../schedules/types.ts';
import { combine, runSteps } from './loop.ts';
import type { SampleRequest, Sampler } from './types.ts';

const gammaOf = (p: TimePoint) => 2 * (Math.log(p.sigma) - Math.log(p.alpha));

export const vdmAncestral: Sampler = {
  name: 'vdm',
  defaultSpacing: 'time',
  sample(req: SampleRequest) {
    return runSteps(req, async (x, from, to, k) => {
      const { x0, eps } = await req.denoiser(x, from);
      x0.dispose();
      const c = -Math.expm1(gammaOf(to) - gammaOf(from)); // = 1 when sigma_s = 0
      const a = to.alpha / from.alpha;
      const std = Math.sqrt(to.sigma ** 2 * c);
      const z = std > 0 ? req.noise(k) : undefined;
      const next = combine([a, x], [-a * from.sigma * c, eps], [std, z]);
      tf.dispose([eps, z]);
      return next;
    });
  },
};
