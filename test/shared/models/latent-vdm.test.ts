// The latent-vdm model (Medical VDM): config checks naming the field, the
// autoencoder's shapes and latent range, and a checkpoint through the
// loader and generate() on every sampling engine: noise on the latent grid,
// decoded to images on the data grid in real units, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../../shared/checkpoint/index.ts';
import { ConfigError } from '../../../shared/config.ts';
import { createModel } from '../../../shared/models/index.ts';
import { latentVdm } from '../../../shared/models/latent-vdm.ts';
import { initScheduleParams, parseScheduleConfig } from '../../../shared/schedules/index.ts';
import { generate } from '../../../sampler/generate.ts';
import { loadModel } from '../../../sampler/load.ts';
import { exportCheckpoint, type ExportMeta } from '../../../trainer/export.ts';
import { SAMPLING_BACKENDS, useBackend } from '../../backends.ts';
import { perturbParams, TINY_LATENT_VDM } from '../../helpers/tiny-models.ts';

const META: ExportMeta = {
  name: 'tiny-latent-xray',
  modality: 'xray',
  schedule: { kind: 'vdm-learned', features: 16 },
  sampler: { name: 'vdm', steps: 4 },
  data: { shape: [16, 16], channels: 1, spacing: [1, 1], intensity: { kind: 'linear', low: 0, high: 255, unit: '' } },
};

describe('latent-vdm config and networks', () => {
  it('encodes [B, H, W, 1] images to latents in (-1, 1) at half the side, decodes back, and frees every intermediate', async () => {
    await useBackend('cpu');
    const model = latentVdm(TINY_LATENT_VDM);
    expect(createModel('latent-vdm', TINY_LATENT_VDM).paramSpecs.length).toBe(model.paramSpecs.length);
    expect(model.input).toMatchObject({ shape: [8, 8], channels: 2 });
    expect(model.output).toMatchObject({ shape: [16, 16], channels: 1 });
    // Every score parameter under score.*, the autoencoder's under enc.* / dec.*.
    expect(model.paramSpecs.every((s) => /^(score|enc|dec)\./.test(s.name))).toBe(true);
    const params = perturbParams(model.init(1), 1, 0.2);
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 256 }, (_, i) => Math.sin(i * 0.3)), [2, 16, 16, 1]);
    const before = tf.memory().numTensors;
    const f = model.encode(params, x);
    expect(f.shape).toEqual([2, 8, 8, 2]);
    const fv = f.dataSync();
    expect(fv.every((v) => v > -1 && v < 1)).toBe(true);
    expect(new Set(fv).size).toBeGreaterThan(10);
    const codes = model.toCodes!(params, f);
    expect(Array.from(codes.dataSync())).toEqual(Array.from(fv)); // nothing to snap
    const image = model.decode!(params, codes);
    expect(image.shape).toEqual([2, 16, 16, 1]);
    const eps = model.apply(params, f, tf.tensor1d([0.3, 0.6]));
    expect(eps.shape).toEqual([2, 8, 8, 2]);
    tf.dispose([f, codes, image, eps]);
    expect(tf.memory().numTensors).toBe(before + 1); // the time tensor made inline above
    expect(() => model.decode!(params, x)).toThrow(/latent-vdm: decode: needs 2 channel\(s\)/);
    tf.dispose([x, ...params.values()]);
  });

  it('names the field when the image does not fit the autoencoder', () => {
    expect(() => latentVdm({ ...TINY_LATENT_VDM, image: { shape: [15, 16] } })).toThrow(ConfigError);
    expect(() => latentVdm({ ...TINY_LATENT_VDM, image: { shape: [15, 16] } })).toThrow(/model\.image\.shape: \[15,16\] must be a multiple of the autoencoder's down factor 2/);
    expect(() => latentVdm({ ...TINY_LATENT_VDM, autoencoder: { channels: [] } })).toThrow(/model\.autoencoder\.channels/);
  });
});

let files: Map<string, Uint8Array>;
beforeAll(async () => {
  await useBackend('cpu');
  const model = latentVdm(TINY_LATENT_VDM);
  const params = perturbParams(model.init(1), 1, 0.1);
  for (const [k, v] of initScheduleParams(parseScheduleConfig(META.schedule), 1)) params.set(k, v);
  files = (await exportCheckpoint(model, params, META, 'int8')).files;
  tf.dispose([...params.values()]);
});

describe.each(SAMPLING_BACKENDS)('latent-vdm sampling on %s', (backend) => {
  it('draws noise on the latent grid, decodes to images on the data grid in real units; image i is the same alone or in a batch; no leaks', async () => {
    await useBackend(backend);
    const m = await loadModel(memorySource(files, 'mem://latent-vdm'));
    const before = tf.memory().numTensors;
    const { images } = await generate(m, { count: 2, seed: 3, batchSize: 2 });
    const alone = await generate(m, { count: 1, first: 1, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    expect(images).toHaveLength(2);
    for (const im of images) {
      expect(im).toMatchObject({ shape: [16, 16, 1], modality: 'xray', range: [0, 255] });
      expect(im.data.every((v) => v >= 0 && v <= 255)).toBe(true);
    }
    expect(new Set(images[0].data).size).toBeGreaterThan(1);
    // Same network, same noise stream: equal up to batch-dependent float rounding (of a 0..255 range).
    const d = alone.images[0].data.reduce((mx, v, i) => Math.max(mx, Math.abs(v - images[1].data[i])), 0);
    expect(d).toBeLessThan(0.5);
  });
});
