// The sampler thread pool: the same images as one thread, in order; progress,
// errors of the caller's making, cancellation, and a model that cannot load.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/config.ts';
import { generate } from '../../../sampler/generate.ts';
import { loadModel } from '../../../sampler/load.ts';
import { writeCheckpointFolder } from '../../../sampler/node/checkpoint-folder.ts';
import { createSamplerPool, splitCount, type SamplerPool } from '../../../sampler/node/pool.ts';
import { useBackend } from '../../backends.ts';
import { tinyFiles } from '../../helpers/tiny-models.ts';

let root: string;
let modelDir: string;
let pool: SamplerPool;
beforeAll(async () => {
  await useBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'medsynth-pool-'));
  modelDir = join(root, 'tiny');
  await writeCheckpointFolder(modelDir, (await tinyFiles('ddpm-unet2d', { labels: ['a', 'b'] })).files);
  pool = await createSamplerPool(modelDir, { threads: 2, backend: 'wasm' });
}, 60_000);
afterAll(async () => {
  await pool?.close();
  await rm(root, { recursive: true, force: true });
});

describe('splitCount', () => {
  it('covers every image once, in order, in near-equal contiguous slices', () => {
    expect(splitCount(5, 2)).toEqual([[0, 3], [3, 2]]);
    expect(splitCount(1, 4)).toEqual([[0, 1]]);
    expect(splitCount(8, 3)).toEqual([[0, 3], [3, 3], [6, 2]]);
  });
});

describe('sampler pool on wasm', () => {
  it('returns the images one thread makes, in order, with progress to the end', async () => {
    const options = { count: 5, seed: 9, steps: 3, batchSize: 2, label: 'b' };
    const progress: [number, number][] = [];
    const pooled = await pool.generate(options, { onProgress: (p) => progress.push([p.step, p.totalSteps]) });
    expect(pool.size).toBe(2);
    expect(pooled.backend).toBe('wasm');
    const model = await loadModel(modelDir);
    try {
      const single = await generate(model, options);
      expect(pooled.images).toHaveLength(5);
      // Same backend, same ops, same noise streams: identical up to nothing (measured 0).
      pooled.images.forEach((im, i) => expect(Array.from(im.data), `image ${i}`).toEqual(Array.from(single.images[i].data)));
    } finally {
      model.dispose();
    }
    // 3 images in 2 batches + 2 images in 1 batch, 3 steps each.
    expect(progress.at(-1)).toEqual([9, 9]);
  });

  it('rethrows the caller’s mistakes as ConfigError naming the option', async () => {
    const e = await pool.generate({ label: 'zebra' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).field).toBe('label');
  });

  it('cancels on abort and stays usable', async () => {
    const ctrl = new AbortController();
    const run = pool.generate({ count: 4, steps: 50, seed: 1 }, { signal: ctrl.signal, onProgress: () => ctrl.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect((await pool.generate({ count: 2, steps: 2 })).images).toHaveLength(2);
  });

  it('a model that cannot load fails the pool with the loader’s error', async () => {
    await expect(createSamplerPool(join(root, 'missing'), { threads: 2, backend: 'wasm' })).rejects.toThrow(/missing.*manifest\.json/);
  });
});
