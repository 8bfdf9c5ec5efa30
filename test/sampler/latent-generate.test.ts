// A latent-ddpm-vqgan3d checkpoint through the sampler's loader and
// generate(): noise is drawn on the latent grid, the sample is decoded by the
// bundled VQ-GAN decoder, and the volume comes back on the manifest's grid in
// real units (HU for CT); inspect shows both networks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/checkpoint/index.ts';
import { latentDdpm } from '../../shared/models/latent-ddpm.ts';
import { generate } from '../../sampler/generate.ts';
import { inspectCheckpoint } from '../../sampler/inspect.ts';
import { loadModel } from '../../sampler/load.ts';
import { exportCheckpoint, type ExportMeta } from '../../trainer/export.ts';
import { SAMPLING_BACKENDS, useBackend } from '../backends.ts';
import { editManifest, perturbParams } from '../helpers/tiny-models.ts';

const CONFIG = {
  baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, channels: 3, depth: 2,
  vqgan: { nHiddens: 4, groups: 4, nCodes: 8, embeddingDim: 3, downsample: [2, 2, 2] },
  latent: { shape: [2, 4, 4], min: -1.5, max: 2.5 },
};
const META: ExportMeta = {
  name: 'tiny-latent-ct',
  modality: 'ct',
  schedule: { kind: 'cosine', T: 100 },
  sampler: { name: 'ddim', steps: 4 },
  // The decoded volume's grid: latents [2, 4, 4] x downsample [2, 2, 2].
  data: { shape: [4, 8, 8], channels: 1, spacing: [2.5, 0.9, 0.8], intensity: { kind: 'hu-window', level: 40, width: 400 } },
};

let files: Map<string, Uint8Array>;
beforeAll(async () => {
  await useBackend('cpu');
  const model = latentDdpm(CONFIG);
  const params = perturbParams(model.init(1), 1, 0.05);
  files = (await exportCheckpoint(model, params, META, 'int8')).files;
  tf.dispose([...params.values()]);
});

describe.each(SAMPLING_BACKENDS)('latent-ddpm-vqgan3d sampling on %s', (backend) => {
  it('draws noise on the latent grid, decodes, and returns volumes on the data grid in HU; image i is the same alone or in a batch; no leaks', async () => {
    await useBackend(backend);
    const m = await loadModel(memorySource(files, 'mem://latent'));
    const before = tf.memory().numTensors;
    const { images } = await generate(m, { count: 2, seed: 3, batchSize: 2 });
    const alone = await generate(m, { count: 1, first: 1, seed: 3 });
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    expect(images).toHaveLength(2);
    for (const im of images) {
      expect(im).toMatchObject({ shape: [4, 8, 8, 1], spacing: [2.5, 0.9, 0.8], modality: 'ct', unit: 'HU', range: [-160, 240] });
      expect(im.data.every((v) => v >= -160 && v <= 240)).toBe(true);
    }
    expect(new Set(images[0].data).size).toBeGreaterThan(1);
    // Same network, same noise stream: equal up to batch-dependent float rounding.
    const d = alone.images[0].data.reduce((mx, v, i) => Math.max(mx, Math.abs(v - images[1].data[i])), 0);
    expect(d).toBeLessThan(1e-2);
  });
});

describe('latent-ddpm-vqgan3d checkpoints', () => {
  it('the loader checks data.shape against the decoded volume, not the latent grid', async () => {
    await useBackend('cpu');
    const bad = editManifest(files, (m) => {
      m.data.shape = [2, 4, 4];
      m.data.spacing = [1, 1, 1];
    });
    await expect(loadModel(memorySource(bad, 'mem://bad'))).rejects.toThrow(/mem:\/\/bad\/manifest\.json: data\.shape\/data\.channels do not fit the model: must be \[4,8,8\] x 1 channel\(s\), got \[2,4,4,1\]/);
  });

  it('inspect shows the denoiser and the VQ-GAN decoder with their sizes and the latent scale', async () => {
    const { lines } = await inspectCheckpoint(memorySource(files, 'mem://latent'));
    const text = lines.join('\n');
    expect(text).toMatch(/kind: latent-ddpm-vqgan3d, modality: ct/);
    expect(text).toMatch(/denoiser \(unet\.\*\): UNet3D on latents 2x4x4 x 3, \d+ tensors, [\d,]+ parameters/);
    expect(text).toMatch(/decoder \(vqgan\.\*\): VQ-GAN decoder, downsample 2x2x2, codebook 8 x 3, \d+ tensors/);
    expect(text).toMatch(/latent scale: codebook values \[-1\.5, 2\.5\] <-> \[-1, 1\]/);
  });
});
