// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), the
// multistep second-order solver in data prediction, with lambda = log(alpha / sigma):
//   h = lambda_s - lambda_t
//   first step, or a step to sigma_s = 0:  D = x0_hat(t)
//   otherwise, r = h_prev / h:             D = (1 + 1/(2r)) x0_hat(t) - (1/(2r)) x0_hat(t_prev)
//   x_s = (sigma_s / sigma_t) x_t - alpha_s expm1(-h) D
// A step to sigma_s = 0 (lambda = +inf) reduces to x_s = alpha_s x0_hat(t).
import * as tf from '@tensorflow/tfjs-core';
import { combine, lambdaOf, runSteps } from './loop.ts';
import type { SampleRequest, Sampler } from './types.ts';

export const dpmSolverPP2M: Sampler = {
  name: 'dpm-solver++',
  defaultSpacing: 'log-snr',
  sample(req: SampleRequest) {
    let prevX0: tf.Tensor | undefined;
    let prevH = 0;
    return runSteps(
      req,
      async (x, from, to) => {
        const { x0, eps } = await req.denoiser(x, from);
        eps.dispose();
        let next: tf.Tensor;
        if (to.sigma === 0) {
          next = tf.mul(x0, to.alpha);
        } else {
          const h = lambdaOf(to) - lambdaOf(from);
          const cx = to.sigma / from.sigma;
          const cd = -to.alpha * Math.expm1(-h);
          if (prevX0 === undefined) {
            next = combine([cx, x], [cd, x0]);
          } else {
            const r = prevH / h;
            next = combine([cx, x], [cd * (1 + 1 / (2 * r)), x0], [-cd / (2 * r), prevX0]);
          }
          prevH = h;
        }
        prevX0?.dispose();
        prevX0 = x0;
        return next;
      },
      () => prevX0?.dispose(),
    );
  },
};
