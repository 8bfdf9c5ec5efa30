// Latent diffusion end to end through the CLI, on small volumes derived from
// the real data (test/fixtures/README.md): VQ-GAN (trained, resumed) ->
// encode -> latent DDPM -> export (one latent-ddpm-vqgan3d checkpoint) ->
// sample -> NIfTI whose header gives the grid, the spacing and mm, with CT in
// HU; then the bad inputs, each one line naming the problem.
import { cp, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli-process.ts';
import { decodeNifti } from '../../trainer/data/nifti.ts';

const FIXTURES = new URL('../fixtures/nifti/', import.meta.url).pathname;
const HUMAN = join(FIXTURES, 'ch2bet-24x28x20-uint8.nii.gz');
const MACAQUE = join(FIXTURES, 'inia19-21x26x16-float32-be.nii.gz');
const CT = join(FIXTURES, 'cranium-ct-32x32x18-int16-scaled.nii.gz');
const DATA = ['--data', `mri=${HUMAN}`, '--data', `mri=${MACAQUE}`, '--data', `ct=${CT}`];

let root: string;
const at = (...p: string[]) => join(root, ...p);
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medsynth-latent-'));
  process.env.MEDSYNTH_CACHE_DIR = at('cache');
  // MRI (two volumes: the macaque one is held out) beside CT in a Hounsfield window on its own spacing.
  await writeFile(
    at('vqgan.json'),
    JSON.stringify({
      preset: 'tiny-vqgan-3d-16',
      meta: { name: 'tiny-head-vqgan' },
      train: { steps: 2, discStart: 2, checkpointEvery: 2, validateEvery: 2, logEvery: 1 },
      dataByLabel: { ct: { modality: 'ct', intensity: { kind: 'hu-window', level: 40, width: 400 }, target: { spacing: [14, 14, 14] } } },
    }),
  );
});
afterAll(async () => {
  delete process.env.MEDSYNTH_CACHE_DIR;
  await rm(root, { recursive: true, force: true });
});

const ok = async (...argv: string[]) => {
  const r = await cli(...argv);
  expect(r.err, argv.join(' ')).toEqual([]);
  expect(r.code).toBe(0);
  return r;
};
const jsonLines = async (path: string) => (await readFile(path, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
const json = async (path: string) => JSON.parse(await readFile(path, 'utf8'));

/** The NIfTI-1 header fields a viewer reads: dim[0..3], pixdim[1..3], the spatial unit code of xyzt_units. */
function header(bytes: Uint8Array) {
  const raw = gunzipSync(bytes);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    dim: [0, 1, 2, 3].map((k) => v.getInt16(40 + 2 * k, true)),
    pixdim: [1, 2, 3].map((k) => v.getFloat32(76 + 4 * k, true)),
    spatialUnit: raw[123] & 0x07, // 2 = mm
    descrip: new TextDecoder().decode(raw.subarray(148, 228)).replace(/\0+$/, ''),
  };
}

describe('VQ-GAN -> encode -> latent DDPM -> export -> sample', () => {
  it('makes a latent-ddpm-vqgan3d checkpoint that samples NIfTI volumes in real units', async () => {
    // 1. The VQ-GAN: 2 steps, then resumed to 3 (the GAN switches on at step 2).
    const vq = at('vq');
    const first = await ok('train', '--config', at('vqgan.json'), ...DATA, '--out', vq, '--backend', 'wasm', '--quiet');
    expect(first.log.join('\n')).toMatch(/training vqgan3d "tiny-head-vqgan": 2 volumes, 1 held out, latents \[4,4,4\] x 4/);
    const resumed = await ok('train', '--resume', '--out', vq, '--set', 'train.steps=3', '--backend', 'wasm', '--quiet');
    expect(resumed.log.join('\n')).toMatch(/resuming .* at step 2 of 3/);
    const metrics = await jsonLines(join(vq, 'metrics.jsonl'));
    const steps = metrics.filter((m) => typeof m.aeLoss === 'number');
    expect(steps.map((m) => [m.step, m.ganActive])).toEqual([[1, false], [2, false], [3, true]]);
    expect(steps.every((m) => m.perplexity >= 1 && Number.isInteger(m.deadCodes))).toBe(true);
    const validation = metrics.filter((m) => m.validation).map((m) => ({ step: m.step, ...m.validation }));
    expect(validation.map((v) => v.step)).toEqual([2, 3]);
    for (const v of validation) {
      expect(v.volumes).toBe(1);
      expect(v.psnr).toBeGreaterThan(0);
      expect(Math.abs(v.ssim)).toBeLessThanOrEqual(1);
      expect(v.usedCodes + v.unusedCodes).toBe(32);
    }
    expect((await json(join(vq, 'run.json'))).config.train.steps).toBe(3); // a later --resume keeps it

    // 2. Latents of the training and held-out volumes.
    const latents = at('latents');
    const encoded = await ok('encode', vq, '--out', latents, '--backend', 'wasm');
    expect(encoded.log.join('\n')).toMatch(/wrote .*latents: latents \[4,4,4,4\] of 2 training and 1 held-out volumes, VQ-GAN step 3, codebook range \[-?[\d.]+, -?[\d.]+\] -> \[-1, 1\]/);
    const lm = await json(join(latents, 'manifest.json'));
    expect(lm).toMatchObject({ kind: 'latents', labels: ['mri', 'ct'], data: { shape: [16, 16, 16], spacing: [12, 12, 12] }, training: { latents: { shape: [4, 4, 4, 4], train: 2, validation: 1, vqgan: { run: vq, step: 3 } } } });

    // 3. The latent DDPM.
    const ldm = at('ldm');
    const trained = await ok('train', '--config', 'tiny-latent-ddpm-3d', '--latents', latents, '--out', ldm, '--set', 'train.steps=4', '--set', 'train.validateEvery=2', '--backend', 'wasm', '--quiet');
    expect(trained.log.join('\n')).toMatch(/training ddpm-unet3d "tiny-latent-ddpm-3d": 2 latents of .*latents, 1 held out, 4 steps/);
    expect((await jsonLines(join(ldm, 'metrics.jsonl'))).filter((m) => m.validation).map((m) => m.step)).toEqual([2, 4]);
    expect((await json(join(ldm, 'run.json'))).latents).toEqual({ path: latents, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // 4. One checkpoint with both networks, data in the volumes' real units.
    const model = at('model');
    await ok('export', ldm, '--out', model);
    const m = await json(join(model, 'manifest.json'));
    expect(m).toMatchObject({
      kind: 'latent-ddpm-vqgan3d',
      quantization: 'int8',
      labels: ['mri', 'ct'],
      model: { channels: 4, depth: 4, numClasses: 2, latent: { shape: [4, 4, 4] }, vqgan: { downsample: [4, 4, 4], embeddingDim: 4 } },
      data: { shape: [16, 16, 16], channels: 1, spacing: [12, 12, 12], perLabel: [{ modality: 'mri', intensity: { kind: 'nyul' } }, { modality: 'ct', spacing: [14, 14, 14], intensity: { kind: 'hu-window', level: 40, width: 400 } }] },
      training: { steps: 4, weights: 'ema', latents: basename(latents), vqgan: { run: basename(vq), step: 3 } },
    });
    // Published manifests name folders, never the training machine's paths.
    expect(JSON.stringify(m)).not.toContain(root);
    const names: string[] = m.tensors.map((t: { name: string }) => t.name);
    expect(names.every((n) => /^unet\.|^vqgan\.(post_vq|dec)\.|^vqgan\.codebook\.embeddings$/.test(n))).toBe(true);
    expect(names.some((n) => n.startsWith('vqgan.dec.'))).toBe(true);
    const inspected = (await ok('inspect', model)).log.join('\n');
    expect(inspected).toMatch(/denoiser \(unet\.\*\): UNet3D on latents 4x4x4 x 4/);
    expect(inspected).toMatch(/decoder \(vqgan\.\*\): VQ-GAN decoder, downsample 4x4x4, codebook 32 x 4/);

    // 5. CT in HU on the CT class's grid; the NIfTI header says so.
    const ct = at('ct.nii.gz');
    await ok('sample', '--model', model, '--out', ct, '--label', 'ct', '--steps', '3', '--seed', '1', '--backend', 'wasm', '--quiet');
    const bytes = await readFile(ct);
    const volume = decodeNifti(bytes, ct);
    expect(volume.shape).toEqual([16, 16, 16]);
    expect(volume.spacing).toEqual([14, 14, 14]);
    expect(Math.min(...volume.data)).toBeGreaterThanOrEqual(-160);
    expect(Math.max(...volume.data)).toBeLessThanOrEqual(240);
    expect(new Set(volume.data).size).toBeGreaterThan(1);
    expect(header(bytes)).toEqual({ dim: [3, 16, 16, 16], pixdim: [14, 14, 14], spatialUnit: 2, descrip: 'medsynth ct HU' });
    // MRI on its Nyul scale at 12 mm.
    const mri = at('mri.nii.gz');
    await ok('sample', '--model', model, '--out', mri, '--label', 'mri', '--steps', '3', '--backend', 'wasm', '--quiet');
    const mv = decodeNifti(await readFile(mri), mri);
    expect(mv.spacing).toEqual([12, 12, 12]);
    expect(Math.min(...mv.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...mv.data)).toBeLessThanOrEqual(100);

    // The evaluation report for volumes: 3D MS-SSIM among samples beside the real volumes'.
    const evaluation = at('evaluation');
    await ok('evaluate', model, ...DATA, '--out', evaluation, '--count', '2', '--steps', '2', '--backend', 'wasm', '--quiet');
    const report = JSON.parse(await readFile(join(evaluation, 'report.json'), 'utf8'));
    expect(report.validation).toBeNull(); // the denoiser's held-out loss is in the latent run's log
    expect(report.classes.map((c: Record<string, unknown>) => [c.label, c.heldOut, c.generated])).toEqual([['mri', 1, 2], ['ct', 0, 2]]);
    for (const c of report.classes) expect(c.msSsim.generated).toBeGreaterThanOrEqual(0);
    expect(report.classes[0].swd.generatedVsHeldOut).toBeGreaterThan(0); // axial slices of the volumes
  });

  it('bad inputs exit 2 with one line naming the problem', async () => {
    const vq = at('vq');
    const latents = at('latents');
    const ldm = at('ldm');
    const cases: [string[], RegExp][] = [
      [['train', '--config', 'tiny-latent-ddpm-3d', '--out', at('x')], /--latents: preset tiny-latent-ddpm-3d trains on latents: make them with medsynth encode/],
      [['train', '--config', 'tiny-mri-2d-16', '--data', HUMAN, '--latents', latents, '--out', at('x')], /--latents: preset tiny-mri-2d-16 \(ddpm-unet2d\) trains on --data/],
      [['train', '--config', 'tiny-latent-ddpm-3d', '--latents', latents, '--data', HUMAN, '--out', at('x')], /--data: preset tiny-latent-ddpm-3d trains on --latents/],
      [['train', '--config', 'brain-latent-ddpm-3d', '--latents', latents, '--out', at('x')], /--latents: .*latents: latents of \[4,4,4\] x 4 .* do not fit preset brain-latent-ddpm-3d, which expects \[8,8,8\] x 8/],
      [['train', '--config', 'tiny-latent-ddpm-3d', '--latents', join(vq, 'checkpoint'), '--out', at('x')], /vq\/checkpoint\/manifest\.json: not a latents folder \(kind "vqgan3d"\)/],
      [['encode', ldm, '--out', at('y')], /ldm is not a VQ-GAN run \(preset tiny-latent-ddpm-3d\)/],
      [['export', vq, '--out', at('y')], /vq is a VQ-GAN run: it is exported inside its latent DDPM/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(...argv, ...(argv[0] === 'train' || argv[0] === 'encode' ? ['--backend', 'cpu', '--quiet'] : []));
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
    }

    // A changed VQ-GAN checkpoint (any byte of its manifest, which lists every shard's sha256) is refused by name.
    const manifest = join(vq, 'checkpoint', 'manifest.json');
    const original = await readFile(manifest);
    await writeFile(manifest, Buffer.concat([original, Buffer.from('\n')]));
    const changed = await cli('export', ldm, '--out', at('y'));
    expect(changed.code).toBe(2);
    expect(changed.err[0]).toMatch(/export: the VQ-GAN run .*\/vq changed since it encoded .*latents .* at step 3\): restore that checkpoint, or encode again and retrain/);
    await writeFile(manifest, original);

    // A moved VQ-GAN run: named, then found with --vqgan.
    await rename(vq, at('vq-moved'));
    const missing = await cli('export', ldm, '--out', at('y'));
    expect(missing.code).toBe(2);
    expect(missing.err[0]).toMatch(/export: the VQ-GAN checkpoint .*\/vq\/checkpoint cannot be read .*pass --vqgan <run> if the run moved/);
    await ok('export', ldm, '--out', at('y'), '--vqgan', at('vq-moved'));
    await rename(at('vq-moved'), vq);

    // Latents changed after training: the run no longer matches them.
    await cp(latents, at('latents-copy'), { recursive: true });
    const lm = join(latents, 'manifest.json');
    await writeFile(lm, Buffer.concat([await readFile(lm), Buffer.from('\n')]));
    const relatents = await cli('export', ldm, '--out', at('y'));
    expect(relatents.code).toBe(2);
    expect(relatents.err[0]).toMatch(/export: the latents folder .*latents changed since this run trained on it/);
    const resume = await cli('train', '--resume', '--out', ldm, '--set', 'train.steps=5', '--backend', 'cpu', '--quiet');
    expect(resume.code).toBe(2);
    expect(resume.err[0]).toMatch(/--latents: .*latents is not the latents folder this run trained on/);
  });
});
