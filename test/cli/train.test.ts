// medsynth train / export end to end on real MRI slices (small fixtures
// derived from ../shared/data, see test/fixtures/README.md): train a tiny
// preset, resume it, export int8, and sample the result with the sampler CLI.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli-process.ts';
import { decodeNifti } from '../../trainer/data/nifti.ts';

const FIXTURES = new URL('../fixtures/nifti/', import.meta.url).pathname;
const HUMAN = join(FIXTURES, 'ch2bet-24x28x20-uint8.nii.gz');
const MACAQUE = join(FIXTURES, 'inia19-21x26x16-float32-be.nii.gz');
const CT = join(FIXTURES, 'cranium-ct-32x32x18-int16-scaled.nii.gz');

let root: string;
let config: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medsynth-train-'));
  process.env.MEDSYNTH_CACHE_DIR = join(root, 'cache');
  config = join(root, 'tiny.json');
  // The tiny preset through a config file, with fewer steps so the test takes seconds.
  await writeFile(
    config,
    JSON.stringify({
      preset: 'tiny-mri-2d-16',
      meta: { name: 'tiny-brain', sampler: { name: 'ddim', steps: 3 } },
      train: { steps: 6, batchSize: 2, checkpointEvery: 3, validateEvery: 3, logEvery: 1, previewEvery: 6, validationBatches: 1 },
    }),
  );
});
afterAll(async () => {
  delete process.env.MEDSYNTH_CACHE_DIR;
  await rm(root, { recursive: true, force: true });
});


const jsonLines = async (path: string) => (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('medsynth train / export', () => {
  it('trains on real MRI slices, resumes, exports int8, and the sampler draws from it', async () => {
    const run = join(root, 'run');
    const first = await cli('train', '--config', config, '--data', HUMAN, '--out', run, '--backend', 'wasm', '--quiet');
    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    // Data-parallel steps by default: one thread per core, at most one per example of the batch of 2.
    expect(first.log.join('\n')).toMatch(new RegExp(`held out, 6 steps, ${Math.min(2, availableParallelism())} threads? per step`));
    const metrics = await jsonLines(join(run, 'metrics.jsonl'));
    expect(metrics.filter((m) => typeof m.loss === 'number').map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(metrics.filter((m) => m.validation).map((m) => m.step)).toEqual([3, 6]);
    expect((await stat(join(run, 'previews', 'step-000006.png'))).size).toBeGreaterThan(0);

    // The second run finds the preprocessed slices in the cache.
    // The state does not depend on the thread count: a run resumes on another.
    const resumed = await cli('train', '--resume', '--out', run, '--set', 'train.steps=8', '--backend', 'wasm', '--threads', '1', '--quiet');
    expect(resumed.err).toEqual([]);
    expect(resumed.log.join('\n')).toMatch(/resuming .* at step 6 of 8/);
    expect(resumed.log.join('\n')).toMatch(/8 steps, 1 thread per step/);
    expect(resumed.log.join('\n')).toMatch(/cache for the data: hit/);
    expect((await jsonLines(join(run, 'metrics.jsonl'))).filter((m) => typeof m.loss === 'number').map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const model = join(root, 'model');
    const exported = await cli('export', run, '--out', model, '--quantize', 'int8');
    expect(exported.code).toBe(0);
    const manifest = JSON.parse(await readFile(join(model, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ kind: 'ddpm-unet2d', modality: 'mri', quantization: 'int8', training: { steps: 8, weights: 'ema', backends: ['wasm'] } });
    expect(manifest.training.seconds).toBeGreaterThanOrEqual(0); // whole seconds, summed over the run and its resume
    expect(manifest.data).toMatchObject({ shape: [16, 16], spacing: [12, 12], intensity: { kind: 'nyul' } });

    const png = join(root, 'sample.png');
    const sampled = await cli('sample', '--model', model, '--out', png, '--backend', 'wasm', '--quiet', '--seed', '3');
    expect(sampled.err).toEqual([]);
    const image = decode(await readFile(png));
    expect([image.width, image.height]).toEqual([16, 16]);

    // A warm start: a new run from the exported int8 model; its export counts all the steps.
    const warm = join(root, 'warm');
    const again = await cli('train', '--config', config, '--data', HUMAN, '--out', warm, '--init', model, '--steps', '2', '--backend', 'wasm', '--quiet');
    expect(again.err).toEqual([]);
    expect(again.log.join('\n')).toMatch(/warm start from .*model \("tiny-brain", 8 steps\)/);
    expect((await cli('export', warm, '--out', join(root, 'warm-model'), '--quantize', 'fp32')).code).toBe(0);
    const warmManifest = JSON.parse(await readFile(join(root, 'warm-model', 'manifest.json'), 'utf8'));
    expect(warmManifest.training).toMatchObject({ steps: 10, warmStart: { name: 'tiny-brain', steps: 8, runSteps: 2 } });
  });

  it('labels data sources for classifier-free guidance, each class with its own preprocessing and units', async () => {
    const run = join(root, 'labelled');
    // CT beside MRI: the CT class gets a Hounsfield window and its own grid (dataByLabel).
    const mixed = join(root, 'mixed.json');
    await writeFile(
      mixed,
      JSON.stringify({
        ...JSON.parse(await readFile(config, 'utf8')),
        dataByLabel: { ct: { modality: 'ct', intensity: { kind: 'hu-window', level: 40, width: 400 }, target: { spacing: [14, 14] } } },
      }),
    );
    const r = await cli('train', '--config', mixed, '--data', `human=${HUMAN}`, '--data', `macaque=${MACAQUE}`, '--data', `ct=${CT}`, '--out', run, '--set', 'train.steps=2', '--set', 'train.previewEvery=0', '--backend', 'wasm', '--quiet', '--json');
    expect(r.code).toBe(0);
    // --json: stdout is one JSON summary; the log went to stderr.
    expect(r.log).toHaveLength(1);
    expect(JSON.parse(r.log[0])).toEqual({ run, kind: 'ddpm-unet2d', name: 'tiny-brain', steps: 2 });
    expect(r.err.some((l) => l.startsWith('medsynth:'))).toBe(false);
    expect(r.err.at(-1)).toMatch(/^done: 2 steps/);
    const model = join(root, 'labelled-model');
    expect((await cli('export', run, '--out', model)).code).toBe(0);
    const manifest = JSON.parse(await readFile(join(model, 'manifest.json'), 'utf8'));
    expect(manifest.labels).toEqual(['human', 'macaque', 'ct']);
    expect(manifest.model.numClasses).toBe(3);
    expect(manifest.data.perLabel).toMatchObject([
      { modality: 'mri', spacing: [12, 12], intensity: { kind: 'nyul' } },
      { modality: 'mri', spacing: [12, 12], intensity: { kind: 'nyul' } },
      { modality: 'ct', spacing: [14, 14], intensity: { kind: 'hu-window', level: 40, width: 400 } },
    ]);
    const out = join(root, 'macaque.png');
    expect((await cli('sample', '--model', model, '--out', out, '--label', 'macaque', '--guidance', '2', '--backend', 'wasm', '--quiet')).code).toBe(0);
    // A CT sample is written in HU on the CT class's grid.
    const nii = join(root, 'ct.nii.gz');
    expect((await cli('sample', '--model', model, '--out', nii, '--label', 'ct', '--backend', 'wasm', '--quiet')).code).toBe(0);
    const volume = decodeNifti(await readFile(nii), nii);
    expect(volume.spacing.slice(1)).toEqual([14, 14]); // [D, H, W]: one 2D slice
    expect(Math.min(...volume.data)).toBeGreaterThanOrEqual(-160 - 1e-3);
    expect(Math.max(...volume.data)).toBeLessThanOrEqual(240 + 1e-3);

    const unknown = await cli('train', '--config', mixed, '--data', `human=${HUMAN}`, '--out', join(root, 'bad'), '--backend', 'cpu', '--quiet');
    expect(unknown.code).toBe(2);
    expect(unknown.err[0]).toMatch(/config\.dataByLabel\.ct: no --data entry has label "ct"/);
  });

  it('evaluate: held-out loss, diversity, SWD, memorisation and int8 vs fp32 in report.json, with a real/generated grid', async () => {
    // The labelled run of the test above, exported again in fp32 as the reference.
    const run = join(root, 'labelled');
    const fp32 = join(root, 'labelled-fp32');
    expect((await cli('export', run, '--out', fp32, '--quantize', 'fp32')).code).toBe(0);
    const out = join(root, 'evaluation');
    const data = ['--data', `human=${HUMAN}`, '--data', `macaque=${MACAQUE}`, '--data', `ct=${CT}`];
    const r = await cli('evaluate', join(root, 'labelled-model'), ...data, '--reference', fp32, '--out', out, '--count', '3', '--steps', '2', '--backend', 'wasm', '--quiet', '--json');
    expect(r.code).toBe(0);
    expect(r.err.some((l) => l.startsWith('medsynth:'))).toBe(false);
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
    // --json prints the same report, and where it went.
    expect(r.log).toHaveLength(1);
    expect(JSON.parse(r.log[0])).toEqual({ files: { report: join(out, 'report.json'), grid: join(out, 'grid.png') }, report });
    expect(report.model).toMatchObject({ name: 'tiny-brain', kind: 'ddpm-unet2d', quantization: 'int8', training: { steps: 2 } });
    expect(report.sampling).toMatchObject({ steps: 2, count: 3, backend: 'wasm' });
    expect(report.validation.examples).toBeGreaterThan(0);
    expect(Number.isFinite(report.validation.loss)).toBe(true);
    expect(report.classes.map((c: { label: string }) => c.label)).toEqual(['human', 'macaque', 'ct']);
    for (const c of report.classes) {
      expect(c.generated).toBe(3);
      expect(Math.abs(c.msSsim.generated)).toBeLessThanOrEqual(1);
      expect(c.swd.generatedVsHeldOut).toBeGreaterThan(0);
      expect(c.swd.trainVsHeldOut).toBeGreaterThan(0);
      expect(c.memorisation).not.toBeNull();
      expect(c.intensity.histogramDistance.trainVsHeldOut).toBeGreaterThan(0);
      expect(c.intensity.foreground.real.max).toBeGreaterThan(0); // real slices have tissue
    }
    expect(report.quantization.sizeRatio).toBeGreaterThan(0.2);
    expect(report.quantization.sizeRatio).toBeLessThan(0.5); // int8 weights with float32 scales and biases
    expect(report.quantization.psnr).toBeGreaterThan(10);
    // Two rows (held-out, generated) per class of 16 x 16 tiles; the held-out row is the wider one.
    const grid = decode(await readFile(join(out, 'grid.png')));
    expect(grid.height).toBe(6 * 17 - 1);

    const wrongLabels = await cli('evaluate', join(root, 'labelled-model'), '--data', HUMAN, '--out', out, '--backend', 'cpu');
    expect(wrongLabels.code).toBe(2);
    expect(wrongLabels.err[0]).toMatch(/--data: label the entries with the model's labels in order \(human, macaque, ct\)/);
  });

  it('bad requests exit 2 with one line naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--config', config, '--out', join(root, 'x')], /--data: at least one file or folder is required/],
      [['train', '--config', 'brain-mri-9d', '--data', HUMAN, '--out', join(root, 'x')], /--config: expected a preset \(brain-mri-2d-64, .*tiny-mri-2d-16.*\) or a \.json file, got "brain-mri-9d"/],
      [['train', '--config', config, '--data', HUMAN, '--out', join(root, 'x'), '--set', 'train.lr=-1'], /config\.train|train\.lr/],
      [['train', '--config', config, '--data', HUMAN, '--out', join(root, 'x'), '--set', '__proto__.x=1'], /--set: bad field path/],
      [['train', '--config', config, '--data', join(root, 'missing.nii.gz'), '--out', join(root, 'x')], /missing\.nii\.gz: no such file or folder/],
      [['train', '--config', config, '--data', HUMAN, '--out', join(root, 'run')], /already holds a run: use --resume/],
      [['train', '--resume', '--out', join(root, 'nothing-here')], /holds no training checkpoint to resume/],
      [['train', '--config', config, '--data', HUMAN, '--out', join(root, 'x'), '--threads', '0'], /--threads: expected an integer in 1\.\.64, got 0/],
      [['train', '--config', 'tiny-vqgan-3d-16', '--data', HUMAN, '--out', join(root, 'x'), '--threads', '2'], /--threads: preset tiny-vqgan-3d-16 is a VQ-GAN: it trains on one thread/],
      [['train', '--resume', '--out', join(root, 'run'), '--init', join(root, 'model')], /--init: a resumed run keeps its weights/],
      [['train', '--config', config, '--data', HUMAN, '--out', join(root, 'x'), '--init', join(root, 'nothing-here')], /nothing-here.*manifest\.json/],
      [['export', join(root, 'nothing-here'), '--out', join(root, 'y')], /nothing-here.*manifest\.json/],
      [['export', join(root, 'run'), '--out', join(root, 'y'), '--quantize', 'int4'], /--quantize: expected int8, fp16 or fp32, got "int4"/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(...argv, ...(argv[0] === 'train' ? ['--backend', 'cpu', '--quiet'] : []));
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
    }
  });
});
