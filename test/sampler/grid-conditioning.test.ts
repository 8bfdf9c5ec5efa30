// generate() computes the network's time/label path once per labels list for
// the whole grid (sampler/grid-conditioning.ts): every network call gets it,
// the images equal those of per-call conditioning, and nothing is kept.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/checkpoint/index.ts';
import type { Model } from '../../shared/models/types.ts';
import { generate, type GenerateOptions } from '../../sampler/generate.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { TEST_BACKENDS, useBackend } from '../backends.ts';
import { tinyFiles, type TinyKind, type TinyOptions } from '../helpers/tiny-models.ts';

/** The loaded model with its network wrapped: counts condition() calls and apply() calls with and without `pre`. */
function counting(m: LoadedModel, usePre = true) {
  const calls = { condition: 0, withPre: 0, withoutPre: 0 };
  const model: Model<unknown> = {
    ...m.model,
    condition: (params, t, cond) => (calls.condition++, m.model.condition(params, t, cond)),
    apply: (params, x, t, cond, pre) => {
      calls[pre ? 'withPre' : 'withoutPre']++;
      return m.model.apply(params, x, t, cond, usePre ? pre : undefined);
    },
  };
  return { loaded: { ...m, model }, calls };
}

const flat = (images: { data: Float32Array }[]) => images.flatMap((im) => Array.from(im.data));

describe.each(TEST_BACKENDS)('grid conditioning on %s', (backend) => {
  const cases: [TinyKind, TinyOptions, GenerateOptions & { count: number; batchSize: number; steps: number }][] = [
    ['ddpm-unet2d', { labels: ['a', 'b'] }, { count: 5, batchSize: 2, label: 'b', guidance: 3, steps: 4, sampler: 'dpm-solver++' }],
    ['vdm-learned', {}, { count: 2, batchSize: 2, steps: 3 }],
    ['ddpm-unet3d', {}, { count: 1, batchSize: 1, steps: 3, sampler: 'ddpm' }],
  ];
  it.each(cases)('%s: one condition() per labels list, every call precomputed, same images as per-call conditioning, no leak', async (kind, opts, gen) => {
    await useBackend(backend);
    const m = await loadModel(memorySource((await tinyFiles(kind, opts)).files, `mem://${kind}`));
    try {
      const before = tf.memory().numTensors;
      const pre = counting(m);
      const a = await generate(pre.loaded, gen);
      expect(tf.memory().numTensors).toBe(before);
      // One condition() per batch size (the 2D case: batches of 2, 2 and 1, each guided: labels then null labels).
      const batches = Math.ceil(gen.count / gen.batchSize);
      const batchSizes = new Set(Array.from({ length: batches }, (_, i) => Math.min(gen.batchSize, gen.count - i * gen.batchSize))).size;
      expect(pre.calls.condition).toBe(batchSizes);
      expect(pre.calls.withoutPre).toBe(0);
      expect(pre.calls.withPre).toBe(gen.steps * batches);

      const perCall = counting(m, false);
      const b = await generate(perCall.loaded, gen);
      // The batched time path may round differently in the last bit; 1e-5 of the range is far below one grey level.
      const range = a.images[0].range[1] - a.images[0].range[0];
      const diff = flat(a.images).reduce((mx, v, i) => Math.max(mx, Math.abs(v - flat(b.images)[i])), 0);
      expect(diff / range).toBeLessThan(1e-5);
    } finally {
      m.dispose();
    }
  });
});
