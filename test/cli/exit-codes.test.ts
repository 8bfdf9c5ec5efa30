// Every documented exit code through the real `medsynth` process (bin/medsynth.js):
// the kind an error carries decides the code (shared/errors.ts), whichever
// layer threw it. Bad input 2, failure 1, cancelled 130.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadInputError, CancelledError, errorKind } from '../../shared/errors.ts';
import { ConfigError } from '../../shared/config.ts';
import { CheckpointError } from '../../shared/checkpoint/index.ts';
import { ReadError } from '../../trainer/data/types.ts';
import { PreprocessError } from '../../trainer/preprocess/common.ts';
import { EXIT_CODES } from '../../cli/main.ts';
import { medsynth, ROOT } from '../helpers/cli-process.ts';
import { encodeNiftiFixture } from '../fixtures/nifti-writer.ts';

const FIX = join(ROOT, 'test', 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'medsynth-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { MEDSYNTH_CACHE_DIR: join(dir, 'cache') };
const run = (args: string[], onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void) => medsynth(args, { env, onLine });

describe('exit codes of the real CLI', () => {
  it('maps each error kind to its documented code', () => {
    expect(EXIT_CODES).toEqual({ 'bad-input': 2, failure: 1, cancelled: 130 });
    for (const e of [new ConfigError('x', 'y'), new CheckpointError('f', 'r'), new ReadError('f', 'r'), new PreprocessError(['f'], 'r'), new BadInputError('b')]) {
      expect(errorKind(e), e.name).toBe('bad-input');
    }
    expect(errorKind(new CancelledError())).toBe('cancelled');
    expect(errorKind(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe('cancelled');
    expect(errorKind(new TypeError('x is undefined'))).toBe('failure');
  });

  it('bad input from preprocessing (a 2D DICOM image for a 3D preset) exits 2 with one line naming the file', async () => {
    const r = await run(['train', '--config', 'brain-mri-3d-32', '--data', join(FIX, 'dicom', 'MR_small.dcm'), '--out', join(dir, 'run-3d'), '--quiet']);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^medsynth: .*MR_small\.dcm: a 2D image .* cannot fill a 3D target/);
    expect(r.code).toBe(2);
  });

  // Volumes a reader decodes but no training can use: each is bad input (2), on one line naming the file.
  const ramp = (n: number) => Array.from({ length: n }, (_, i) => i % 97);
  const badVolumes: [string, string, () => void, RegExp][] = [
    ['NaN voxels', 'nan.nii', () => writeFileSync(join(dir, 'nan.nii'), encodeNiftiFixture({ dims: [8, 8, 8], pixdim: [1, 1, 1], datatype: 'float32', values: ramp(512).map((v, i) => (i === 7 ? NaN : v)) })), /nan\.nii: .*not finite/],
    ['a constant volume', 'flat.nii', () => writeFileSync(join(dir, 'flat.nii'), encodeNiftiFixture({ dims: [8, 8, 8], pixdim: [1, 1, 1], datatype: 'uint8', values: Array(512).fill(5) })), /flat\.nii: nyul: the foreground mask is empty/],
    ['a 1x1x1 volume', 'dot.nii', () => writeFileSync(join(dir, 'dot.nii'), encodeNiftiFixture({ dims: [1, 1, 1], pixdim: [1, 1, 1], datatype: 'uint8', values: [5] })), /dot\.nii: /],
    ['a folder named .nii', 'folder.nii', () => mkdirSync(join(dir, 'folder.nii'), { recursive: true }), /--data: no readable volumes for the data in .*folder\.nii$/m],
    ['a voxel size of 1e30 mm', 'huge.nii', () => writeFileSync(join(dir, 'huge.nii'), encodeNiftiFixture({ dims: [8, 8, 8], pixdim: [1e30, 1, 1], datatype: 'uint8', values: ramp(512) })), /huge\.nii: .*over the limit of 256 M voxels \(MAX_VOLUME_VOXELS\)/],
  ];
  it.each(badVolumes)('%s exits 2 with one line naming the file', async (_what, file, make, message) => {
    make();
    const r = await run(['train', '--config', 'tiny-mri-2d-16', '--data', join(dir, file), '--out', join(dir, `run-${file}`), '--quiet', '--backend', 'cpu']);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it.each([
    [['train', '--config', 'tiny-mri-2d-16', '--data', 'x.nii', '--on-bad-file', 'maybe', '--out', 'unused'], /^medsynth: --on-bad-file: expected "skip" or "fail", got "maybe"$/],
    [['serve', '--models', '/no-such-models-folder'], /^medsynth: models folder \/no-such-models-folder does not exist or is not a folder$/],
  ])('a bad setting (%j) exits 2 with one line naming it', async (args, message) => {
    const r = await run(args);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('bad input from a reader (a missing data file) exits 2', async () => {
    const r = await run(['train', '--config', 'tiny-mri-2d-16', '--data', join(dir, 'no-such.nii'), '--out', join(dir, 'run-missing'), '--quiet']);
    expect(r.stderr).toMatch(/no-such\.nii: no such file or folder/);
    expect(r.code).toBe(2);
  });

  it('a failure of the machine (the port is taken) exits 1', async () => {
    const server: Server = createServer();
    const port = await new Promise<number>((res) => server.listen(0, '127.0.0.1', () => res((server.address() as { port: number }).port)));
    try {
      const r = await run(['serve', '--port', String(port), '--host', '127.0.0.1', '--models', join(ROOT, 'models')]);
      expect(r.stderr).toMatch(/EADDRINUSE/);
      expect(r.code).toBe(1);
    } finally {
      server.close();
    }
  });

  it('Ctrl-C during sampling exits 130 and writes no file', async () => {
    const out = join(dir, 'cancelled.png');
    let sent = false;
    // DDPM x 300 on the default model takes tens of seconds: SIGINT once the model line says sampling is next.
    const r = await run(['sample', '--out', out, '--sampler', 'ddpm', '--steps', '300', '--quiet', '--backend', 'cpu'], (line, kill) => {
      if (!sent && line.startsWith('model: ')) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.stderr).toMatch(/^medsynth: cancelled/);
    expect(r.code).toBe(130);
    expect(existsSync(out)).toBe(false);
  });

  it('Ctrl-C during training saves, then exits 130 so `train && export` stops', async () => {
    const out = join(dir, 'run-stopped');
    let sent = false;
    const r = await run(['train', '--config', 'tiny-mri-2d-16', '--data', join(FIX, 'nifti', 'ch2bet-24x28x20-uint8.nii.gz'), '--out', out, '--steps', '100000', '--quiet', '--backend', 'cpu', '--set', 'train.checkpointEvery=2'], (line, kill) => {
      if (!sent && /^step \d+/.test(line)) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.stderr).toMatch(/^medsynth: stopped at step \d+ \(checkpoint saved\); continue with --resume/);
    expect(r.code).toBe(130);
  });
});
