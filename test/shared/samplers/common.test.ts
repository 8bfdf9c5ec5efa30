// Behaviour every sampler shares, on every backend: no leaked tensors,
// cancellation between steps, progress, determinism.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../../shared/rng.ts';
import { createDdim } from '../../../shared/samplers/ddim.ts';
import { createSampler, SAMPLER_NAMES, type Denoiser } from '../../../shared/samplers/index.ts';
import { toDenoised } from '../../../shared/schedules/prediction.ts';
import { createSchedule } from '../../../shared/schedules/index.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const denoiser: Denoiser = (x, tp) => tf.tidy(() => toDenoised(tf.mul(x, tp.sigma * 0.5), x, tp, 'eps', true));

function request(steps: number, seed = 3) {
  const grid = createSchedule({ kind: 'cosine', T: 100 }).grid(steps);
  const rng = new Rng(seed);
  return { denoiser, grid, xT: tf.tensor2d(rng.normal(64), [4, 16]), noise: () => tf.tensor2d(rng.normal(64), [4, 16]) };
}

describe.each(TEST_BACKENDS)('samplers on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(SAMPLER_NAMES)('%s', (name) => {
    it('frees every intermediate and reports progress', async () => {
      const req = request(8);
      const before = tf.memory().numTensors;
      const seen: number[] = [];
      const out = await createSampler(name, { eta: 0.5 }).sample({ ...req, onStep: (k, n) => seen.push(k / n) });
      expect(out.shape).toEqual([4, 16]);
      expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
      out.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((k) => k / 8));
      req.xT.dispose();
    });

    it('cancels between steps, freeing everything', async () => {
      const req = request(20);
      const before = tf.memory().numTensors;
      const ctrl = new AbortController();
      let steps = 0;
      const run = createSampler(name).sample({
        ...req,
        signal: ctrl.signal,
        onStep: (k) => {
          steps = k;
          if (k === 3) ctrl.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(steps).toBe(3);
      expect(tf.memory().numTensors).toBe(before);
      req.xT.dispose();
    });

    it('draws noise only for steps that add some: none when deterministic, none on the last step to t = 0', async () => {
      // DDPM, VDM and DDIM eta 1 add posterior noise, whose variance is zero on the step to t = 0;
      // DDIM eta 0 and DPM-Solver++ are deterministic. A noise draw that is not needed costs time
      // and shifts the seeded stream of every draw after it.
      const steps = 6;
      const expected = name === 'dpm-solver++' ? [0, 0] : name === 'ddim' ? [0, steps - 1] : [steps - 1, steps - 1];
      const drawn = [];
      for (const eta of [0, 1]) {
        const req = request(steps);
        let draws = 0;
        const out = await createSampler(name, { eta }).sample({ ...req, noise: () => (draws++, req.noise()) });
        tf.dispose([out, req.xT]);
        drawn.push(draws);
      }
      expect(drawn).toEqual(expected);
    });

    it('is deterministic for a seed', async () => {
      const a = request(5, 11);
      const b = request(5, 11);
      const [x, y] = [await createSampler(name, { eta: 1 }).sample(a), await createSampler(name, { eta: 1 }).sample(b)];
      expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
      tf.dispose([x, y, a.xT, b.xT]);
    });
  });
});

it('each sampler reports its own name', () => {
  for (const name of SAMPLER_NAMES) expect(createSampler(name).name).toBe(name);
});

it('DDIM refuses an eta outside [0, 1] itself, not only through createSampler', () => {
  for (const eta of [-0.1, 1.5, Number.NaN]) expect(() => createDdim(eta), String(eta)).toThrow(/sampler\.eta must be in \[0, 1\]/);
});

it('unknown sampler names are rejected with the list of known ones', () => {
  expect(() => createSampler('euler')).toThrow(/unknown sampler "euler"; known samplers: ddpm, ddim, dpm-solver\+\+, vdm/);
  expect(() => createSampler('ddim', { eta: 2 })).toThrow(/eta must be in \[0, 1\]/);
});
