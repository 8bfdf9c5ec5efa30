// The VQ-GAN job in the run loop (trainer/run.ts): settings split from a run config, batches that depend
// on (seed, step) only, metrics.jsonl with per-step codebook numbers and
// held-out PSNR/SSIM, a stop on the signal that saves, and a resumed run
// ending bit-identical to an uninterrupted one; no tensors leak.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/config.ts';
import { folderSource } from '../../../sampler/node/folder-source.ts';
import type { ExampleSet } from '../../../trainer/trainer.ts';
import { runTraining } from '../../../trainer/run.ts';
import { batchAt, splitVqganTrain, validateVqgan, vqganJob } from '../../../trainer/vqgan/job.ts';
import { VqganTrainer } from '../../../trainer/vqgan/trainer.ts';
import { useBackend } from '../../backends.ts';
import { blob, S, TINY_VQGAN } from './fixtures.ts';

const set = (xs: Float32Array[]): ExampleSet => ({ shape: [S, S, S, 1], size: xs.length, get: (i) => ({ x: xs[i] }) });
const TRAIN = set([blob(4, 4, 4, 2.5), blob(3, 5, 4, 2), blob(5, 3, 3, 3)]);
const HELD = set([blob(4, 3, 5, 2)]);
const CONFIG = { ...TINY_VQGAN, discStart: 2 };
const SETTINGS = splitVqganTrain({ steps: 4, batchSize: 2, flip: ['W'], checkpointEvery: 0, validateEvery: 2, logEvery: 1 }).settings;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medsynth-vqgan-run-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const lines = async (dir: string) => (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

describe('VQ-GAN run settings and batches', () => {
  it('splits a train section into loop settings and trainer config, validating the loop settings by field', () => {
    const { settings, trainer } = splitVqganTrain({ steps: 10, batchSize: 3, lr: 1e-3, discStart: 5 });
    expect(settings).toMatchObject({ steps: 10, batchSize: 3, seed: 0, flip: [], checkpointEvery: 200 });
    expect(trainer).toEqual({ lr: 1e-3, discStart: 5 });
    expect(() => splitVqganTrain({ steps: 0 })).toThrow(ConfigError);
    expect(() => splitVqganTrain({ flip: ['X'] })).toThrow(/train\.flip\[0\]/);
  });

  it('a step\'s batch depends on (seed, step) only, and flips follow the setting', () => {
    const a = batchAt(TRAIN, 3, 5, SETTINGS);
    expect(batchAt(TRAIN, 3, 5, SETTINGS)).toEqual(a);
    const steps = Array.from({ length: 8 }, (_, s) => batchAt(TRAIN, 3, s, SETTINGS).map((x) => Array.from(x.slice(0, 16)).join()));
    expect(new Set(steps.map((b) => b.join('|'))).size).toBeGreaterThan(1);
    const noFlip = { ...SETTINGS, flip: [] as ('D' | 'H' | 'W')[] };
    const originals = new Set([0, 1, 2].map((i) => TRAIN.get(i).x));
    for (let s = 0; s < 8; s++) expect(batchAt(TRAIN, 3, s, noFlip).every((x) => originals.has(x))).toBe(true);
  });
});

describe('the VQ-GAN job in the run loop', () => {
  it('writes per-step losses, perplexity and restarted codes, held-out PSNR/SSIM and code usage, and a loadable checkpoint', async () => {
    await useBackend('wasm');
    const dir = join(root, 'straight');
    const tr = VqganTrainer.create(CONFIG, 1);
    const logged: string[] = [];
    expect(await runTraining(vqganJob(tr, SETTINGS, TRAIN, HELD), dir, { log: (l) => logged.push(l) })).toEqual({ interrupted: false });
    const m = await lines(dir);
    const steps = m.filter((r) => typeof r.aeLoss === 'number');
    expect(steps.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    for (const r of steps) {
      expect(r.perplexity).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger(r.deadCodes)).toBe(true);
      expect(r.recon).toBeGreaterThan(0);
    }
    expect(steps.map((r) => r.ganActive)).toEqual([false, false, true, true]);
    const val = m.filter((r) => r.validation);
    expect(val.map((r) => r.step)).toEqual([2, 4]);
    for (const { validation: v } of val) {
      expect(v.volumes).toBe(1);
      expect(Number.isFinite(v.psnr)).toBe(true);
      expect(Math.abs(v.ssim)).toBeLessThanOrEqual(1);
      expect(v.usedCodes + v.unusedCodes).toBe(16);
      expect(v.perplexity).toBeLessThanOrEqual(v.usedCodes + 1e-9);
    }
    expect(logged.join('\n')).toMatch(/step 4: held-out PSNR [\d.]+ dB, SSIM -?[\d.]+, codebook perplexity [\d.]+, \d+ of 16 codes unused/);
    const loaded = await VqganTrainer.load(folderSource(join(dir, 'checkpoint')));
    expect(loaded.step).toBe(4);
    // The validation numbers are those of the saved state.
    expect(validateVqgan(loaded, HELD)).toEqual(val[1].validation);
    // PSNR in model space, peak-to-peak 2: 10 log10(2^2 / MSE) of the held-out reconstruction.
    const x = HELD.get(0).x;
    const [recon] = loaded.evaluate([x]).recon;
    const mse = recon.reduce((sum, r, i) => sum + (r - x[i]) ** 2, 0) / x.length;
    expect(val[1].validation.psnr).toBeCloseTo(10 * Math.log10(4 / mse), 6);
    loaded.dispose();
    // Once every optimiser state exists (GAN on since step 3), validation and more steps allocate nothing that stays.
    const before = tf.memory().numTensors;
    validateVqgan(tr, HELD);
    await runTraining(vqganJob(tr, { ...SETTINGS, steps: 5 }, TRAIN, HELD), dir);
    expect(tf.memory().numTensors).toBe(before);
    tr.dispose();
  });

  it('stops on the signal after saving, and the resumed run ends where an uninterrupted one does, bit for bit', async () => {
    await useBackend('wasm');
    const straight = VqganTrainer.create(CONFIG, 1);
    await runTraining(vqganJob(straight, SETTINGS, TRAIN), join(root, 'ref'));

    const dir = join(root, 'stopped');
    const first = VqganTrainer.create(CONFIG, 1);
    const ctrl = new AbortController();
    const r = await runTraining(vqganJob(first, SETTINGS, TRAIN), dir, { signal: ctrl.signal, onStep: (m) => m.step === 2 && ctrl.abort() });
    expect(r).toEqual({ interrupted: true });
    first.dispose();
    const resumed = await VqganTrainer.load(folderSource(join(dir, 'checkpoint')));
    expect(resumed.step).toBe(2);
    await runTraining(vqganJob(resumed, SETTINGS, TRAIN), dir);
    expect(resumed.step).toBe(4);
    const state = (t: VqganTrainer) => [...t.ae].map(([k, v]) => [k, Array.from(v.dataSync())]);
    expect(state(resumed)).toEqual(state(straight));
    const losses = async (d: string) => (await lines(d)).map((l) => l.aeLoss);
    expect(await losses(dir)).toEqual(await losses(join(root, 'ref')));
    resumed.dispose();
    straight.dispose();
  });

  it('refuses volumes of another shape than the VQ-GAN trains on', async () => {
    await useBackend('wasm');
    const tr = VqganTrainer.create(CONFIG, 1);
    const wrong: ExampleSet = { shape: [S, S, 4, 1], size: 1, get: () => ({ x: new Float32Array(S * S * 4) }) };
    expect(() => vqganJob(tr, SETTINGS, wrong)).toThrow(/training volumes are \[8,8,4,1\], the VQ-GAN trains on \[8,8,8,1\]/);
    tr.dispose();
  });
});
