// The steps bench's smoke run: reference, floor with its permutation
// threshold, one curve point per step count, the pick, and the manifest it
// writes on request. No quality or timing is asserted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, writeSamplerSettings } from '../../bench/sampling/steps.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { loadModel } from '../../sampler/load.ts';
import { useBackend } from '../backends.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';
import { finite, positive } from '../helpers/matchers.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medsynth-steps-test-'));
  await useBackend('cpu');
  await writeCheckpointFolder(join(dir, 'model'), (await tinyFiles('ddpm-unet2d')).files);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('bench/sampling/steps --quick', () => {
  it('writes the reference, the noise floor, the curve and the pick', async () => {
    const out = await main(['--quick', '--model', join(dir, 'model'), '--samplers', 'dpm-solver++,ddim:1', '--out', join(dir, 'steps.json')]);
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report).toMatchObject({
      bench: 'steps',
      settings: { count: 4, referenceSteps: 8, steps: [2, 3], samplers: ['dpm-solver++', 'ddim:1'], permutations: 4, threads: 1 },
      reference: { sampler: 'ddpm', steps: 8 },
      floor: { swd: positive, crossMsSsim: finite, threshold: { swd: positive } },
      manifestWritten: false,
    });
    expect(report.floor.permutations).toHaveLength(4);
    expect(report.floor.threshold.crossMsSsim).toHaveLength(2);
    expect(report.curve.map((c: any) => [c.sampler, c.steps])).toEqual([
      ['dpm-solver++', 2],
      ['dpm-solver++', 3],
      ['ddim:1', 2],
      ['ddim:1', 3],
    ]);
    expect(report.curve.map((c: any) => c.eta)).toEqual([0, 0, 1, 1]);
    for (const c of report.curve) {
      expect(c).toMatchObject({ swd: positive, crossMsSsim: finite, within: { swd: expect.any(Boolean), crossMsSsim: expect.any(Boolean) } });
      expect(c.within.both).toBe(c.within.swd && c.within.crossMsSsim);
    }
    // The pick is the smallest passing step count, with the first listed sampler passing at it, or none.
    const passing = report.curve.filter((c: any) => c.within.both);
    const fewest = Math.min(...passing.map((c: any) => c.steps));
    const first = passing.find((c: any) => c.steps === fewest);
    expect(report.pick).toEqual(first ? { sampler: first.sampler.split(':')[0], eta: first.eta, steps: fewest } : null);
  }, 30_000);

  it('refuses a bad sampler spec by flag', async () => {
    await expect(main(['--samplers', 'ddim:2'])).rejects.toThrow('--samplers: "ddim:2": expected name or name:eta with eta in [0, 1]');
    await expect(main(['--samplers', 'dpm-solver++:1'])).rejects.toThrow(/only ddim takes an eta/);
    await expect(main(['--samplers', 'euler'])).rejects.toThrow(/unknown sampler "euler"/);
  });

  it('writeSamplerSettings (--write-manifest) records a pick as the model sampler settings, and the checkpoint still loads', async () => {
    await writeSamplerSettings(join(dir, 'model'), { sampler: 'ddim', steps: 3, eta: 1 });
    await expect(loadModel(join(dir, 'model')).then((m) => (m.dispose(), m.manifest.sampler))).resolves.toEqual({ name: 'ddim', steps: 3, eta: 1 });
    // A later pick without eta drops the old one.
    await writeSamplerSettings(join(dir, 'model'), { sampler: 'dpm-solver++', steps: 3, eta: 0 });
    const m = await loadModel(join(dir, 'model'));
    try {
      expect(m.manifest.sampler).toEqual({ name: 'dpm-solver++', steps: 3 });
      expect(m.manifest.name).toBe('tiny-mri-2d');
    } finally {
      m.dispose();
    }
  });
});
