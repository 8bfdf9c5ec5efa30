// evaluateCheckpoint on a tiny model with synthetic data: every figure is
// there and finite, nothing leaks, and a reference of another network is refused.
import * as tf from '@tensorflow/tfjs-core';
import { decode as decodePng } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../../shared/checkpoint/index.ts';
import { loadModel } from '../../../sampler/load.ts';
import { evaluateCheckpoint } from '../../../trainer/evaluate/evaluate.ts';
import type { ExampleSet } from '../../../trainer/trainer.ts';
import { useBackend } from '../../backends.ts';
import { perturbParams, TINY_LATENT_VDM, tinyFiles } from '../../helpers/tiny-models.ts';
import { latentVdm } from '../../../shared/models/latent-vdm.ts';
import { initScheduleParams, parseScheduleConfig } from '../../../shared/schedules/index.ts';
import { exportCheckpoint } from '../../../trainer/export.ts';
import { blobs } from './metrics/helpers.ts';

const set = (seed: number, n: number, labels: number): ExampleSet => {
  const items = Array.from({ length: n }, (_, i) => ({ x: blobs([16, 16], seed * 100 + i), label: i % labels }));
  return { shape: [16, 16, 1], size: n, get: (i) => items[i] };
};

describe('evaluateCheckpoint', () => {
  beforeAll(() => useBackend('cpu'));

  it('a latent VDM reports its held-out bound from the images (its encoder ships with it), by term', async () => {
    const model = latentVdm(TINY_LATENT_VDM);
    const params = perturbParams(model.init(1), 1, 0.1);
    const schedule = { kind: 'vdm-learned', features: 16 };
    for (const [k, v] of initScheduleParams(parseScheduleConfig(schedule), 1)) params.set(k, v);
    const meta = { name: 'tiny-latent-xray', modality: 'xray' as const, schedule, sampler: { name: 'vdm', steps: 3 }, data: { shape: [16, 16], channels: 1, spacing: [1, 1], intensity: { kind: 'linear' as const, low: 0, high: 255, unit: '' } } };
    const { files } = await exportCheckpoint(model, params, meta, 'fp32');
    tf.dispose([...params.values()]);
    const m = await loadModel(memorySource(files, 'latent-vdm'));
    try {
      const { report } = await evaluateCheckpoint(m, { train: set(1, 8, 1), validation: set(2, 4, 1) }, { count: 2, steps: 2 }, {});
      const v = report.validation!;
      expect(v.examples).toBe(4);
      expect(v.terms!.recon + v.terms!.latent + v.terms!.diffusion).toBeCloseTo(v.bpd!, 4);
      expect(v.terms!.recon).toBeGreaterThan(0);
    } finally {
      m.dispose();
    }
  });

  it('reports every figure per class, frees every tensor, and compares against a reference', async () => {
    const labels = ['a', 'b'];
    const model = await loadModel(memorySource((await tinyFiles('ddpm-unet2d', { labels, quantization: 'int8' })).files, 'int8'));
    const reference = await loadModel(memorySource((await tinyFiles('ddpm-unet2d', { labels })).files, 'fp32'));
    try {
      const before = tf.memory().numTensors;
      const { report, grid } = await evaluateCheckpoint(model, { train: set(1, 12, 2), validation: set(2, 6, 2) }, { count: 3, steps: 2 }, { reference: { model: reference, location: 'fp32' } });
      expect(tf.memory().numTensors).toBe(before);
      expect(report.validation?.examples).toBe(6);
      expect(report.classes.map((c) => [c.label, c.train, c.heldOut, c.generated])).toEqual([['a', 6, 3, 3], ['b', 6, 3, 3]]);
      for (const c of report.classes) {
        expect(c.msSsim.heldOut).toBeGreaterThan(0);
        expect(Number.isFinite(c.swd!.generatedVsHeldOut)).toBe(true);
        expect(c.memorisation!.flagged.length).toBeLessThanOrEqual(3);
        // The real range comes from the 6 training and 3 held-out blob images of the class; two real sets differ a little.
        const it8 = c.intensity!;
        expect(it8.foreground.real.min).toBeLessThanOrEqual(it8.foreground.real.median);
        expect(it8.outsideRealRange.foreground + it8.outsideRealRange.darkLevel).toBeLessThanOrEqual(6);
        expect(it8.histogramDistance.trainVsHeldOut).toBeGreaterThan(0);
        expect(Number.isFinite(it8.histogramDistance.generatedVsHeldOut)).toBe(true);
        // 3 held-out against 3 generated: too few for 4 folds, so no two-sample test.
        expect(c.c2st).toBeNull();
      }
      expect(report.quantization).toMatchObject({ reference: 'fp32', sampler: 'ddim' });
      // The int8 checkpoint against its own fp32 weights: measured 88.5 dB mean, 24.1 dB for the worst
      // image (sampling amplifies rounding); another network's samples are below 20 dB.
      expect(report.quantization!.psnr).toBeGreaterThan(60);
      expect(report.quantization!.minPsnr).toBeGreaterThan(15);
      expect(report.model.shards).toEqual(model.manifest.shards.map(({ file, sha256 }) => ({ file, sha256 })));
      // Per class a held-out row and a generated row of min(3, gridColumns) 16x16 tiles, 1 px apart.
      const png = decodePng(grid);
      expect([png.width, png.height]).toEqual([3 * 17 - 1, 4 * 17 - 1]);
    } finally {
      model.dispose();
      reference.dispose();
    }
  });

  it('runs the two-sample test where each set fills the folds: an untrained model is told from real blobs', async () => {
    const model = await loadModel(memorySource((await tinyFiles('ddpm-unet2d')).files, 'tiny'));
    try {
      const { report } = await evaluateCheckpoint(model, { train: set(1, 8, 1), validation: set(2, 8, 1) }, { count: 8, steps: 2 });
      const { generatedVsHeldOut: t, trainVsHeldOut } = report.classes[0].c2st!;
      expect([t.real, t.generated]).toEqual([8, 8]);
      // Two sampling steps of an untrained network give noise, not blobs: measured AUC 1.0 against chance 0.38
      // (95th percentile 0.56); training blobs against held-out blobs: 0.28.
      expect(t.auc).toBeGreaterThan(t.chance!.p95);
      expect(trainVsHeldOut).toBeLessThan(t.auc);
    } finally {
      model.dispose();
    }
  });

  it('refuses a reference that is another network', async () => {
    const model = await loadModel(memorySource((await tinyFiles('ddpm-unet2d')).files, 'a'));
    const other = await loadModel(memorySource((await tinyFiles('ddpm-unet2d', { config: { baseChannels: 4 } })).files, 'b'));
    try {
      await expect(evaluateCheckpoint(model, { train: set(1, 4, 1) }, { count: 2, steps: 1 }, { reference: { model: other, location: 'models/other' } })).rejects.toThrow(
        /--reference models\/other: a different network/,
      );
    } finally {
      model.dispose();
      other.dispose();
    }
  });
});
