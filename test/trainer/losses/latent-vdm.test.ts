// The latent VDM loss against its terms computed by hand on a tiny input:
// the discretised logistic is a distribution over the levels, and the
// reconstruction, prior and diffusion terms equal the formulas of
// trainer/losses/latent-vdm.ts evaluated in plain JS on the networks' outputs.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { decoderOutputs } from '../../../shared/models/autoencoder2d.ts';
import { latentVdm } from '../../../shared/models/latent-vdm.ts';
import { Rng } from '../../../shared/rng.ts';
import { gammaFn } from '../../../shared/schedules/gamma-tensor.ts';
import { initScheduleParams, parseScheduleConfig } from '../../../shared/schedules/index.ts';
import { discretizedLogisticLogLik, latentVdmTerms } from '../../../trainer/losses/latent-vdm.ts';
import { useBackend } from '../../backends.ts';
import { perturbParams, TINY_LATENT_VDM } from '../../helpers/tiny-models.ts';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
/**
 * log p(level k) of a discretised logistic, in float64: the bin's mass
 * sigma(a) - sigma(b), taken in the lower tail (mirrored above the mean,
 * where the plain difference of two values near 1 cancels even in float64).
 */
function logBinMass(x: number, k: number, V: number, mu: number, logS: number): number {
  const s = Math.exp(logS);
  const [a, b] = [(x + 1 / V - mu) / s, (x - 1 / V - mu) / s];
  if (k === 0) return Math.log(sigmoid(a));
  if (k === V - 1) return Math.log(sigmoid(-b));
  return x <= mu ? Math.log(sigmoid(a) - sigmoid(b)) : Math.log(sigmoid(-b) - sigmoid(-a));
}

describe('discretised logistic', () => {
  it('sums to 1 over the levels, and matches the bin masses by hand', async () => {
    await useBackend('cpu');
    const V = 16;
    const levels = Array.from({ length: V }, (_, k) => (2 * (k + 0.5)) / V - 1);
    for (const [mu, logS] of [[0.1, -2], [-0.9, -3], [0.99, -1]]) {
      const ll = discretizedLogisticLogLik(tf.tensor1d(levels), tf.fill([V], mu), tf.fill([V], logS), V).dataSync() as Float32Array;
      expect(ll.reduce((sum: number, v: number) => sum + Math.exp(v), 0)).toBeCloseTo(1, 5);
      // float32 against float64: relative 1e-5 of the log-mass.
      levels.forEach((x, k) => expect(Math.abs(ll[k] - logBinMass(x, k, V, mu, logS))).toBeLessThan(1e-5 * Math.max(1, Math.abs(ll[k]))));
    }
  });
});

describe('latent VDM terms', () => {
  it('recon, latent and diffusion equal the formulas by hand on a 16x16 batch of 2', async () => {
    await useBackend('cpu');
    const model = latentVdm(TINY_LATENT_VDM);
    const schedule = parseScheduleConfig({ kind: 'vdm-learned', features: 16 });
    const params = perturbParams(model.init(2), 2, 0.2);
    for (const [k, v] of initScheduleParams(schedule, 2)) params.set(k, v);
    const g = gammaFn(schedule, params);
    const V = 256;
    const rng = new Rng(4);
    // Images on the level grid; noise on the [8, 8] x 2 latent grid.
    const xs = Float32Array.from({ length: 2 * 256 }, (_, i) => (2 * (((i * 37) % V) + 0.5)) / V - 1);
    const x = tf.tensor4d(xs, [2, 16, 16, 1]);
    const eps0 = tf.tensor4d(rng.normal(2 * 128), [2, 8, 8, 2]);
    const eps = tf.tensor4d(rng.normal(2 * 128), [2, 8, 8, 2]);
    const t = Float32Array.of(0.2, 0.7);
    const terms = latentVdmTerms(model, params, g, x, { t, eps0, eps }, { steps: 0, vocabSize: V });

    // By hand, from the networks' outputs.
    const [g0, g1] = [0, 1].map((v) => g.gamma(tf.tensor1d([v])).dataSync()[0]);
    const f = model.encode(params, x);
    const fv = f.dataSync();
    const e0 = eps0.dataSync();
    const z0 = tf.tensor4d(fv.map((v, i) => v + Math.exp(g0 / 2) * e0[i]), [2, 8, 8, 2]);
    const { mean, logScale } = decoderOutputs(params, model.config.autoencoder, z0);
    const [mu, ls] = [mean.dataSync(), logScale.dataSync()];
    const recon = [0, 0];
    xs.forEach((v, i) => {
      recon[Math.floor(i / 256)] -= logBinMass(v, Math.round(((v + 1) * V) / 2 - 0.5), V, mu[i], ls[i]);
    });
    const var1 = sigmoid(g1);
    const latent = [0, 0];
    fv.forEach((v, i) => (latent[Math.floor(i / 128)] += 0.5 * (var1 + (1 - var1) * v * v - Math.log(var1) - 1)));
    const gt = g.gamma(tf.tensor1d(t)).dataSync();
    const gp = g.gammaPrime(tf.tensor1d(t)).dataSync();
    const ev = eps.dataSync();
    const zt = tf.tensor4d(fv.map((v, i) => Math.sqrt(1 - sigmoid(gt[Math.floor(i / 128)])) * v + Math.sqrt(sigmoid(gt[Math.floor(i / 128)])) * ev[i]), [2, 8, 8, 2]);
    const epsHat = model.apply(params, zt, g.networkTime(tf.tensor1d(Array.from(gt)))).dataSync();
    const diffusion = [0, 0];
    ev.forEach((v, i) => (diffusion[Math.floor(i / 128)] += 0.5 * gp[Math.floor(i / 128)] * (v - epsHat[i]) ** 2));

    const close = (got: tf.Tensor1D, want: number[]) => Array.from(got.dataSync()).forEach((v, b) => expect(Math.abs(v - want[b])).toBeLessThan(1e-3 * Math.max(1, Math.abs(want[b]))));
    close(terms.recon, recon);
    close(terms.latent, latent);
    close(terms.diffusion, diffusion);
    // Recon counts image pixels, the other two latent dimensions: all finite and positive here.
    for (const v of [...recon, ...latent, ...diffusion]) expect(Number.isFinite(v) && v > 0).toBe(true);
  });
});
