// Data-parallel training steps (Trainer.useThreads): helper threads with
// their own wasm instances take rows of each batch, and the run is the
// one-thread run up to float rounding. Measured gap after 3 steps: ~1e-7 of
// the parameters' scale (summation order only); a wrong share weight, a
// misaligned draw or a stale parameter copy moves them by 1e-4 or more
// (lr 1e-3, Adam steps ~lr per weight), so 1e-5 separates the two.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { Trainer, type ExampleSet, type TrainSpec } from '../../../trainer/trainer.ts';
import { useBackend } from '../../backends.ts';
import { tinyMeta, tinyModelConfig, type TinyKind } from '../../helpers/tiny-models.ts';

const spec = (kind: TinyKind, labels?: string[]): TrainSpec => ({ kind: kind === 'vdm-learned' ? 'vdm' : kind, model: tinyModelConfig(kind, { labels }), meta: tinyMeta(kind, { labels }) });

function images(shape: number[], n: number): ExampleSet {
  const size = shape.reduce((a, b) => a * b, 1);
  const items = Array.from({ length: n }, (_, k) => ({ x: Float32Array.from({ length: size }, (_, i) => Math.tanh(Math.sin(i * 0.37 * (k + 1)) * 2)), label: k % 2 }));
  return { shape, size: n, get: (i) => items[i] };
}

const trainers: Trainer[] = [];
afterEach(() => {
  for (const t of trainers.splice(0)) t.dispose();
});

async function run(s: TrainSpec, data: ExampleSet, config: Record<string, unknown>, threads: number, steps: number) {
  const t = Trainer.create(s, { lr: 1e-3, warmup: 0, steps, seed: 3, ...config });
  trainers.push(t);
  await t.useThreads(threads);
  expect(t.threads).toBe(threads);
  const metrics = [];
  for (let i = 0; i < steps; i++) metrics.push(await t.trainStep(data));
  return { t, metrics };
}

function expectSameRun(a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>) {
  let scale = 0;
  let worst = 0;
  for (const [name, p] of a.t.params) {
    const x = p.dataSync();
    const y = b.t.params.get(name)!.dataSync();
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(x[i]));
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
    }
  }
  expect(scale).toBeGreaterThan(0.1);
  expect(worst).toBeLessThan(1e-5 * scale);
  a.metrics.forEach((m, i) => {
    expect(b.metrics[i].loss).toBeCloseTo(m.loss, 5);
    expect(b.metrics[i].gradNorm).toBeCloseTo(m.gradNorm, 4);
    for (const k of ['recon', 'latent', 'diffusion'] as const) if (m.terms) expect(b.metrics[i].terms![k]).toBeCloseTo(m.terms[k], 5);
  });
}

describe('Trainer.useThreads on wasm', () => {
  it.each([
    { what: 'class-conditional DDPM with label dropout and affine, batch 4 over 2 threads', kind: 'ddpm-unet2d' as const, labels: ['a', 'b'], config: { batchSize: 4, pUncond: 0.5, affine: { rotate: 5, shift: 0.05 } } },
    { what: 'learned-schedule VDM (antithetic times over the whole batch), batch 3 split 2 + 1', kind: 'vdm-learned' as const, labels: undefined, config: { batchSize: 3 } },
    { what: '3D DDPM with gradient accumulation', kind: 'ddpm-unet3d' as const, labels: undefined, config: { batchSize: 2, accumulate: 2 } },
  ])('gives the one-thread run up to rounding: $what', async ({ kind, labels, config }) => {
    await useBackend('wasm');
    const s = spec(kind, labels);
    const data = images([...(s.meta.data.shape as number[]), 1], 4);
    const one = await run(s, data, config, 1, 3);
    const two = await run(s, data, config, 2, 3);
    expectSameRun(one, two);
  });

  it('more threads than rows: the extra helpers sit out, the result is unchanged', async () => {
    await useBackend('wasm');
    const s = spec('ddpm-unet2d');
    const data = images([16, 16, 1], 4);
    expectSameRun(await run(s, data, { batchSize: 2 }, 1, 2), await run(s, data, { batchSize: 2 }, 3, 2));
  });

  it('leaves no tensors on the trainer thread per step, frees everything on dispose, and refuses a bad thread count by name', async () => {
    await useBackend('wasm');
    const start = tf.memory().numTensors;
    const t = Trainer.create(spec('vdm-learned'), { batchSize: 2 });
    await t.useThreads(2);
    const data = images([16, 16, 1], 2);
    await t.trainStep(data);
    const steady = tf.memory().numTensors;
    await t.trainStep(data);
    expect(tf.memory().numTensors).toBe(steady);
    await t.useThreads(1); // the helpers are closed; steps go on alone
    await t.trainStep(data);
    expect(tf.memory().numTensors).toBe(steady);
    await expect(t.useThreads(0)).rejects.toThrow(/threads: expected an integer in 1\.\.64, got 0/);
    t.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
