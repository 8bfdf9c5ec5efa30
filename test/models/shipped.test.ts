// The checkpoints shipped under models/: each one loads through the sampler
// (shard hashes verified), is int8 and a few MB, records its training, and
// has a `medsynth evaluate` report made from exactly these weights, so the
// figures models/README.md quotes describe what ships.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { generate } from '../../sampler/generate.ts';
import { loadModel } from '../../sampler/load.ts';
import { useBackend } from '../backends.ts';

const MODELS = fileURLToPath(new URL('../../models', import.meta.url));
/** "A few MB each" (issue 7): an edge download a browser can afford. */
const MAX_BYTES = 8 * 2 ** 20;

const shipped = readdirSync(MODELS).filter((d) => existsSync(join(MODELS, d, 'manifest.json')));
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('shipped models', () => {
  it('include the embedded default', () => {
    expect(shipped).toContain('default');
  });

  it.each(shipped)('models/%s: listed in models/README.md', (dir) => {
    expect(readFileSync(join(MODELS, 'README.md'), 'utf8')).toContain(`\`${dir}/\``);
  });

  it.each(shipped)('models/%s: int8, a few MB, trained steps/seconds/backends recorded, evaluated on these weights', (dir) => {
    const manifest = readJson(join(MODELS, dir, 'manifest.json'));
    const bytes = manifest.shards.reduce((n: number, s: { bytes: number }) => n + s.bytes, 0);
    expect(manifest.quantization).toBe('int8');
    expect(bytes).toBeLessThan(MAX_BYTES);
    expect(manifest.training.steps).toBeGreaterThan(0);
    expect(manifest.training.seconds).toBeGreaterThan(0);
    expect(manifest.training.backends.length).toBeGreaterThan(0);
    const report = readJson(join(MODELS, 'evaluation', manifest.name, 'report.json'));
    expect(report.model).toMatchObject({ name: manifest.name, kind: manifest.kind, quantization: 'int8', bytes, training: { steps: manifest.training.steps } });
    // Bound by content: a report left over from other weights of the same architecture fails here.
    expect(report.model.shards).toEqual(manifest.shards.map(({ file, sha256 }: { file: string; sha256: string }) => ({ file, sha256 })));
    expect(existsSync(join(MODELS, 'evaluation', manifest.name, 'grid.png'))).toBe(true);
  });

  it.each(shipped)('models/%s: loads (hashes checked) and samples finite images in its real range on wasm, freeing every tensor', async (dir) => {
    await useBackend('wasm');
    const m = await loadModel(join(MODELS, dir));
    try {
      const before = tf.memory().numTensors;
      // Two steps: this checks the shipped files run, not image quality (that is the evaluation's job).
      const { images } = await generate(m, { count: 1, steps: 2, seed: 1, ...(m.manifest.labels ? { label: 0 } : {}) });
      expect(tf.memory().numTensors).toBe(before);
      const [lo, hi] = images[0].range;
      expect(images[0].data.every((v) => Number.isFinite(v) && v >= lo && v <= hi)).toBe(true);
      expect(images[0].shape).toEqual([...m.manifest.data.shape, m.manifest.data.channels]);
    } finally {
      m.dispose();
    }
  });
});
