// The medsynth CLI through main(argv, log, err): real checkpoint folders,
// real output files read back with independent decoders, and the error
// contract (exit 2, one line, no stack unless --verbose, no partial output).
import { spawn } from 'node:child_process';
import { decode } from 'fast-png';
import * as nifti from 'nifti-reader-js';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../cli/main.ts';
import { cli, ROOT } from '../helpers/cli-process.ts';
import { generate } from '../../sampler/generate.ts';
import { loadModel } from '../../sampler/load.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { useBackend } from '../backends.ts';
import { tinyFiles } from '../helpers/tiny-models.ts';

let root: string;
let model2d: string;
let model3d: string;
let modelCond: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medsynth-cli-'));
  model2d = join(root, 'models', 'mri-2d');
  model3d = join(root, 'models', 'ct-3d');
  modelCond = join(root, 'models', 'mri-2d-cond');
  await writeCheckpointFolder(model2d, (await tinyFiles('ddpm-unet2d')).files);
  await writeCheckpointFolder(model3d, (await tinyFiles('ddpm-unet3d')).files);
  await writeCheckpointFolder(modelCond, (await tinyFiles('ddpm-unet2d', { labels: ['healthy', 'glioma'] })).files);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});


async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

let caseNo = 0;
/** A fresh, empty folder for one test's output. */
async function outDir(): Promise<string> {
  const dir = join(root, `out-${++caseNo}`);
  await mkdir(dir);
  return dir;
}

function readNifti(bytes: Uint8Array) {
  let buf: ArrayBuffer = bytes.slice().buffer;
  expect(nifti.isCompressed(buf)).toBe(true);
  buf = nifti.decompress(buf) as ArrayBuffer;
  expect(nifti.isNIFTI1(buf)).toBe(true);
  const header = nifti.readHeader(buf);
  if (!(header instanceof nifti.NIFTI1)) throw new Error('expected a NIfTI-1 header');
  return { header, voxels: new Float32Array(nifti.readImage(header, buf)) };
}

describe('medsynth sample', () => {
  it('writes a 2D PNG of the model size and logs the backend', async () => {
    const out = join(await outDir(), 'mri.png');
    const r = await cli('sample', '--model', model2d, '--out', out, '--backend', 'cpu', '--quiet', '--steps', '3', '--seed', '5');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.log[0]).toBe('backend: cpu');
    expect(r.log).toContain('model: tiny-mri-2d (ddpm-unet2d, mri, 16x16, fp32)');
    expect(r.log.at(-1)).toBe(`wrote ${out}: 1 image(s), ddim 3 steps, seed 5, backend cpu`);
    const png = decode(await readFile(out));
    expect([png.width, png.height, png.depth, png.channels]).toEqual([16, 16, 8, 1]);
    expect(new Set(png.data).size).toBeGreaterThan(2); // an image, not a blank
    expect(await readdir(join(out, '..'))).toEqual(['mri.png']); // no temp file left next to it
  });

  it('--count 3 writes one montage PNG (2 x 2 grid of 16x16 tiles with 1-pixel gaps)', async () => {
    const out = join(await outDir(), 'montage.png');
    const r = await cli('sample', '--model', model2d, '--out', out, '--backend', 'wasm', '--quiet', '--steps', '3', '--count', '3');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.log[0]).toBe('backend: wasm');
    expect(r.log.at(-1)).toMatch(/: 3 image\(s\), ddim 3 steps, seed 0, backend wasm$/);
    const png = decode(await readFile(out));
    expect([png.width, png.height, png.depth, png.channels]).toEqual([33, 33, 8, 1]);
  });

  it('--threads 2 splits the images over two threads and writes the same bytes as one thread', async () => {
    const dir = await outDir();
    const args = ['sample', '--model', model2d, '--backend', 'wasm', '--quiet', '--steps', '3', '--count', '3', '--seed', '4'];
    const two = await cli(...args, '--out', join(dir, 'two.png'), '--threads', '2');
    expect(two.err).toEqual([]);
    expect(two.log).toContain('sampling on 2 threads');
    const one = await cli(...args, '--out', join(dir, 'one.png'), '--threads', '1');
    expect(one.log.join('\n')).not.toMatch(/threads/);
    expect(Buffer.compare(await readFile(join(dir, 'two.png')), await readFile(join(dir, 'one.png')))).toBe(0);
    // The flag's old name still works, with a note; both at once is a usage error.
    const old = await cli(...args, '--out', join(dir, 'old.png'), '--workers', '2');
    expect(old.code).toBe(0);
    expect(old.log).toContain('note: --workers is now --threads (the old name still works)');
    expect(Buffer.compare(await readFile(join(dir, 'old.png')), await readFile(join(dir, 'one.png')))).toBe(0);
    const both = await cli(...args, '--out', join(dir, 'both.png'), '--workers', '2', '--threads', '2');
    expect(both.code).toBe(2);
    expect(both.err.join('\n')).toMatch(/--workers is the old name of --threads: give one of them/);
  });

  it('a 3D CT to .nii.gz: W, H, D dims, spacing reversed, float32 HU equal to generate() with the same options', async () => {
    const out = join(await outDir(), 'ct.nii.gz');
    const r = await cli('sample', '--model', model3d, '--out', out, '--backend', 'wasm', '--quiet', '--steps', '3', '--seed', '9');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const { header: h, voxels } = readNifti(await readFile(out));
    expect(h.dims.slice(0, 4)).toEqual([3, 8, 8, 4]); // [W, H, D]
    // spacing [sD, sH, sW] = [2.5, 0.9, 0.8] -> pixdim (sW, sH, sD).
    expect(h.pixDims.slice(1, 4)).toEqual([Math.fround(0.8), Math.fround(0.9), 2.5]);
    expect(h.datatypeCode).toBe(nifti.NIFTI1.TYPE_FLOAT32);
    expect(voxels.length).toBe(4 * 8 * 8);
    for (const v of voxels) expect(v >= -160 && v <= 240, `${v} HU outside the window [-160, 240]`).toBe(true);
    expect(voxels.some((v) => v > -160 && v < 240)).toBe(true);

    // The CLI passed --seed and --steps through: same voxels as the library call.
    await useBackend('wasm');
    const m = await loadModel(model3d);
    try {
      const direct = await generate(m, { seed: 9, steps: 3 });
      expect(Array.from(voxels)).toEqual(Array.from(direct.images[0].data));
    } finally {
      m.dispose();
    }
  });

  it('--label picks a class by name or index', async () => {
    const dir = await outDir();
    const args = ['--model', modelCond, '--backend', 'wasm', '--quiet', '--steps', '2'];
    expect((await cli('sample', ...args, '--out', join(dir, 'name.png'), '--label', 'glioma')).code).toBe(0);
    expect((await cli('sample', ...args, '--out', join(dir, 'index.png'), '--label', '1')).code).toBe(0);
    expect((await cli('sample', ...args, '--out', join(dir, 'other.png'), '--label', 'healthy')).code).toBe(0);
    const [byName, byIndex, other] = await Promise.all(['name', 'index', 'other'].map(async (f) => decode(await readFile(join(dir, `${f}.png`))).data));
    expect(Array.from(byIndex)).toEqual(Array.from(byName));
    expect(Array.from(other)).not.toEqual(Array.from(byName));
  });

  it('without --model samples the embedded default model', async () => {
    const manifest = JSON.parse(await readFile(join(DEFAULT_MODEL, 'manifest.json'), 'utf8'));
    const out = join(await outDir(), 'default.png');
    const r = await cli('sample', '--out', out, '--backend', 'wasm', '--quiet', '--steps', '1');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.log.some((l) => l.startsWith(`model: ${manifest.name} (`))).toBe(true);
    const png = decode(await readFile(out));
    expect([png.height, png.width]).toEqual(manifest.data.shape);
  });
});

describe('medsynth inspect', () => {
  it('prints the kind, every shard and that it verified', async () => {
    const r = await cli('inspect', model2d);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(await readFile(join(model2d, 'manifest.json'), 'utf8'));
    expect(r.log).toContain('kind: ddpm-unet2d, modality: mri');
    for (const s of manifest.shards) expect(r.log).toContain(`  ${s.file}  ${s.bytes} bytes  sha256 ${s.sha256}  ok`);
    expect(r.log.at(-2)).toMatch(/^verified: /);
    expect(r.log.at(-1)).toMatch(/fit the weights \(the checks `sample` runs\)$/);
  });
});

describe('errors: exit 2, one line, no stack trace, no output file', () => {
  /** Runs `argv` (with {out} replaced by a path in a fresh folder) and checks the error contract. */
  async function expectUsageError(argv: string[], message: RegExp, outName = 'x.png'): Promise<string> {
    const dir = await outDir();
    const out = join(dir, outName);
    const r = await cli(...argv.map((a) => (a === '{out}' ? out : a)));
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).not.toContain('\n');
    expect(r.err[0]).not.toMatch(/\bat .*\.ts:\d+/);
    expect(r.err[0]).toMatch(/^medsynth: /);
    expect(r.err[0]).toMatch(message);
    expect(await exists(out)).toBe(false);
    expect(await readdir(dir)).toEqual([]); // no temporary file either
    return r.err[0];
  }
  const common = () => ['--backend', 'cpu', '--quiet', '--steps', '3'];

  it('missing --out', async () => {
    await expectUsageError(['sample', '--model', model2d, ...common()], /--out .* is required/);
  });

  it('an unknown option', async () => {
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', '--bogus', ...common()], /Unknown option '--bogus'/);
  });

  it.each(['abc', '2.5', '', '=-3'])('a bad --steps value %j', async (value) => {
    const args = value.startsWith('=') ? [`--steps${value}`] : ['--steps', value];
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', '--backend', 'cpu', '--quiet', ...args], /--steps must be a non-negative integer, got "/);
  });

  it('--steps 0 (valid syntax, out of range)', async () => {
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', '--backend', 'cpu', '--quiet', '--steps', '0'], /steps: .*>=\s*1/);
  });

  it('an unknown sampler, listing the known ones', async () => {
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', ...common(), '--sampler', 'euler'], /sampler: .*ddpm.*ddim.*dpm-solver\+\+.*vdm/);
  });

  it('a bad label, listing the valid ones', async () => {
    await expectUsageError(['sample', '--model', modelCond, '--out', '{out}', ...common(), '--label', 'meningioma'], /label: expected one of 0="healthy", 1="glioma"; got "meningioma"/);
  });

  it('a model folder that does not exist, naming its manifest', async () => {
    const missing = join(root, 'models', 'nope');
    const line = await expectUsageError(['sample', '--model', missing, '--out', '{out}', ...common()], /missing manifest\.json/);
    expect(line).toContain(join(missing, 'manifest.json'));
    await expectUsageError(['inspect', missing], /missing manifest\.json/);
  });

  it('a corrupted shard on disk, naming the file (sample and inspect)', async () => {
    const dir = join(root, 'models', 'corrupt');
    await writeCheckpointFolder(dir, (await tinyFiles('ddpm-unet2d')).files);
    const shard = join(dir, 'weights-00000.msgpack');
    const bytes = await readFile(shard);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    await writeFile(shard, bytes);
    const line = await expectUsageError(['sample', '--model', dir, '--out', '{out}', ...common()], /sha256 mismatch/);
    expect(line).toContain(shard);
    const inspected = await expectUsageError(['inspect', dir], /sha256 mismatch/);
    expect(inspected).toContain(shard);
  });

  it('an unsupported --out extension (checked before sampling)', async () => {
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', ...common()], /unsupported output extension "\.jpg": expected \.png, \.nii or \.nii\.gz/, 'x.jpg');
  });

  it('an unknown command', async () => {
    await expectUsageError(['smaple', '--model', model2d], /unknown command "smaple"/);
  });

  it('--verbose adds the stack trace', async () => {
    const r = await cli('sample', '--model', model2d, '--out', join(await outDir(), 'x.png'), ...common(), '--sampler', 'euler', '--verbose');
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(/^medsynth: sampler: /);
    expect(r.err.length).toBeGreaterThanOrEqual(2);
    expect(r.err.slice(1).join('\n')).toMatch(/\n\s+at .*cli[\\/]\w+\.ts:\d+/);
  });

  it('a negative --steps written as a separate value: one line, not parseArgs\'s three', async () => {
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', '--backend', 'cpu', '--quiet', '--steps', '-3'], /--steps/);
  });

  it('an unknown --backend', async () => {
    await expectUsageError(['sample', '--model', model2d, '--out', '{out}', '--quiet', '--backend', 'gpu'], /--backend must be one of tensorflow, onnxruntime, wasm, cpu; got "gpu"/);
  });
});

describe('--help and --version', () => {
  it('prints every command without one, exiting 2; with --help, 0', async () => {
    const bare = await cli();
    expect(bare.code).toBe(2);
    const full = await cli('--help');
    expect(full.code).toBe(0);
    for (const c of ['sample', 'inspect', 'serve', 'publish', 'train', 'encode', 'export', 'evaluate', 'init']) expect(full.log[0]).toContain(`  medsynth ${c} `);
  });

  it('`<command> --help` and `help <command>` print only that command', async () => {
    for (const argv of [['train', '--help'], ['help', 'train']]) {
      const r = await cli(...argv);
      expect(r.code).toBe(0);
      expect(r.log[0]).toMatch(/^usage:\n {2}medsynth train --config/);
      expect(r.log[0]).toContain('--resume');
      expect(r.log[0]).not.toContain('medsynth sample');
    }
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await cli('--version')).toEqual({ code: 0, log: [version], err: [] });
  });
});

describe('output paths are checked before any sampling', () => {
  it('refuses an existing folder and a path under a file, naming them; creates missing folders', async () => {
    const dir = await outDir();
    await mkdir(join(dir, 'taken.png'));
    const folder = await cli('sample', '--model', model2d, '--out', join(dir, 'taken.png'), '--backend', 'cpu', '--quiet', '--steps', '2');
    expect(folder.code).toBe(2);
    expect(folder.err[0]).toMatch(/--out .*: is a folder; give a file name/);
    await writeFile(join(dir, 'file'), 'x');
    const under = await cli('sample', '--model', model2d, '--out', join(dir, 'file', 'x.png'), '--backend', 'cpu', '--quiet', '--steps', '2');
    expect(under.code).toBe(2);
    expect(under.err[0]).toMatch(/file is not a folder/);
    const nested = join(dir, 'new', 'deeper', 'x.png');
    const ok = await cli('sample', '--model', model2d, '--out', nested, '--backend', 'cpu', '--quiet', '--steps', '2');
    expect(ok.code).toBe(0);
    expect(await exists(nested)).toBe(true);
  });

  it('train, export and encode refuse an --out folder under a file before reading any data', async () => {
    const dir = await outDir();
    await writeFile(join(dir, 'file'), 'x');
    const under = join(dir, 'file', 'run');
    // The data path does not exist: the output check must come first.
    for (const args of [
      ['train', '--config', 'tiny-mri-2d-16', '--data', join(dir, 'missing.nii'), '--out', under],
      ['export', join(dir, 'missing-run'), '--out', under],
      ['encode', join(dir, 'missing-run'), '--out', under],
    ]) {
      const r = await cli(...args);
      expect(r.code, args[0]).toBe(2);
      expect(r.err[0], args[0]).toMatch(/^medsynth: --out .*file\/run: .*file is not a folder$/);
    }
  });
});

describe('medsynth init', () => {
  it('writes an untrained checkpoint in the asked quantisation; --quantize means what it means for export', async () => {
    const dir = await outDir();
    const r = await cli('init', '--preset', 'tiny-mri-2d-16', '--out', join(dir, 'fp16'), '--quantize', 'fp16');
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'fp16', 'manifest.json'), 'utf8')).quantization).toBe('fp16');
    const bad = await cli('init', '--preset', 'tiny-mri-2d-16', '--out', join(dir, 'x'), '--quantize', 'int4');
    const exportBad = await cli('export', join(dir, 'no-run'), '--out', join(dir, 'y'), '--quantize', 'int4');
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual(['medsynth: --quantize: expected int8, fp16 or fp32, got "int4"']);
    expect(exportBad.err).toEqual(bad.err);
  });
});

describe('--json and --out -', () => {
  it('sample --json prints one JSON summary on stdout that describes the file written; the log goes to stderr', async () => {
    const out = join(await outDir(), 'x.png');
    const r = await cli('sample', '--model', model2d, '--out', out, '--backend', 'cpu', '--quiet', '--steps', '2', '--count', '2', '--json');
    expect(r.code).toBe(0);
    expect(r.log).toHaveLength(1);
    const summary = JSON.parse(r.log[0]);
    expect(summary).toMatchObject({ out, format: 'png', images: 2, shape: [16, 16, 1], steps: 2, seed: 0, backend: 'cpu', model: { kind: 'ddpm-unet2d' } });
    expect(summary.bytes).toBe((await readFile(out)).length);
    expect(r.err.at(-1)).toMatch(/^wrote .*x\.png: 2 image\(s\)/);
  });

  it('inspect --json prints the checkpoint report', async () => {
    const r = await cli('inspect', model2d, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.log[0]);
    const manifest = JSON.parse(await readFile(join(model2d, 'manifest.json'), 'utf8'));
    expect(report).toMatchObject({ checkpoint: model2d, kind: manifest.kind, quantization: manifest.quantization, tensors: manifest.tensors.length });
    expect(report.shards).toEqual(manifest.shards);
  });

  it('sample --out - writes the image to stdout (PNG, or --format) and nothing else', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'medsynth.js'), 'sample', '--model', model2d, '--out', '-', '--backend', 'cpu', '--quiet', '--steps', '2']);
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    const png = decode(Buffer.concat(chunks));
    expect([png.width, png.height]).toEqual([16, 16]);
    expect(stderr).toMatch(/wrote stdout: 1 image\(s\)/);
  });

  it('refuses --json with --out -, a --format the file name contradicts, and --json where a command has no result', async () => {
    const json = await cli('sample', '--model', model2d, '--out', '-', '--json');
    expect([json.code, json.err]).toEqual([2, ['medsynth: --json: cannot share stdout with --out -: write the image to a file']]);
    const format = await cli('sample', '--model', model2d, '--out', join(await outDir(), 'x.png'), '--format', 'nii');
    expect([format.code, format.err[0]]).toEqual([2, expect.stringMatching(/^medsynth: --format: nii disagrees with the file name .*x\.png$/)]);
    const init = await cli('init', '--preset', 'tiny-mri-2d-16', '--out', join(await outDir(), 'm'), '--json');
    expect([init.code, init.err[0]]).toEqual([2, expect.stringMatching(/--json/)]);
  });
});
