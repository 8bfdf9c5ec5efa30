// `npm run bench:sampling`: sampling speed and cost per preset and shipped
// model on each available backend, in one JSON file (bench/results/sampling-<time>.json).
//   tsx bench/sampling/sampling.ts [--runs 5] [--warmup 3] [--image-runs 5] [--image-seconds 300]
//     [--backends tensorflow,wasm,cpu] [--presets a,b] [--models dir,dir] [--quick] [--out file.json]
//
// Presets (trainer/presets.ts, all but cxr-vdm-256 unless named, plus
// brain-mri-3d-32@64: that network on 64^3 volumes, the issue's 3D memory
// case, not on cpu unless named) run as their seeded untrained initialisation
// (trainer/untrained.ts) with small seeded noise on every weight, so the
// zero-initialised output layer does not make the int8 comparison trivial;
// speed does not depend on the values. Shipped models are the folders under
// models/ (or --models). Each (checkpoint, backend) pair runs in a fresh
// process (measure.ts): its first load is a cold one and its wasm heap and
// peak RSS are its own. Per pair: network call latency at batch 1 and the
// kernel split (median of --runs after --warmup calls); time-to-image with the
// manifest's sampler and steps (median of up to --image-runs images, fewer
// once --image-seconds have passed, at least one) and the sampler step
// latency (median over those images' steps); analytic GFLOP per call and
// achieved GFLOP/s; the conv/matmul share of kernel time (tf.profile); peak
// memory; checkpoint load time cold and cached; once per checkpoint, int8
// against fp32 (size ratio, output PSNR through DDIM with eta 0 on the same
// seeds). A full run on a 2-core machine takes about an hour, most of it on
// cpu (100-step VDM images at seconds per step): --backends wasm leaves it out.
// --quick: the tiny preset, 2 runs, 2 steps, wasm only unless --backends says
// otherwise (a smoke run of seconds).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { encodeCheckpoint, loadCheckpoint, memorySource, type HostTensor, type Manifest } from '../../shared/checkpoint/index.ts';
import { GAMMA_PREFIX } from '../../shared/schedules/index.ts';
import { Rng } from '../../shared/rng.ts';
import { BACKEND_NAMES, parseBackendName, selectBackend, type BackendName } from '../../sampler/backend.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { folderSource } from '../../sampler/node/folder-source.ts';
import { createModel } from '../../shared/models/index.ts';
import { exportCheckpoint } from '../../trainer/export.ts';
import { PRESETS } from '../../trainer/presets.ts';
import { untrainedCheckpoint } from '../../trainer/untrained.ts';
import { machineInfo } from '../common/machine.ts';
import type { MeasureJob } from './measure.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MEASURE = fileURLToPath(new URL('./measure.ts', import.meta.url));
/** tsx's loader, so the child runs TypeScript whatever started this process (tsx, vitest). */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Seeded noise on every preset weight (see the top of this file). */
const PERTURB_STD = 0.05;
const SEED = 0;

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new Error(`--${name} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}

function settingsFrom(argv: string[]) {
  const text = { type: 'string' } as const;
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: text,
      warmup: text,
      'image-runs': text,
      'image-seconds': text,
      backends: text,
      presets: text,
      models: text,
      out: text,
      'max-seconds': text,
      quick: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? false;
  const known = [...Object.keys(PRESETS), ...Object.keys(VARIANTS)];
  const named = values.presets?.split(',').filter(Boolean);
  const presets = named ?? (quick ? ['tiny-mri-2d-16'] : known.filter((p) => p !== 'cxr-vdm-256'));
  for (const p of presets) if (!known.includes(p)) throw new Error(`--presets: unknown preset "${p}"; presets: ${known.join(', ')}`);
  const runs = positiveInt('runs', values.runs, quick ? 2 : 5);
  return {
    quick,
    presets,
    models: values.models?.split(',').filter(Boolean),
    backends: (values.backends ?? (quick ? 'wasm' : BACKEND_NAMES.join(','))).split(',').map(parseBackendName),
    runs,
    // tfjs's own code takes a few calls to reach speed (JIT): measured calls 1-4 up to 2x slower than later ones.
    warmup: positiveInt('warmup', values.warmup, quick ? 1 : 3, 0),
    imageRuns: positiveInt('image-runs', values['image-runs'], runs),
    imageSeconds: positiveInt('image-seconds', values['image-seconds'], 300),
    /** Presets measured on cpu too (the 64^3 volume takes minutes per cpu step). */
    onCpu: (p: string) => named !== undefined || !Object.hasOwn(VARIANTS, p),
    steps: quick ? 2 : undefined,
    maxSeconds: positiveInt('max-seconds', values['max-seconds'], 3600),
    out: values.out,
  };
}

/** Presets at other sizes: a preset's network with config fields and data shape overridden. */
const VARIANTS: Record<string, { preset: string; model: Record<string, unknown>; shape: number[] }> = {
  'brain-mri-3d-32@64': { preset: 'brain-mri-3d-32', model: { depth: 64 }, shape: [64, 64, 64] },
};

/** A preset's (or variant's) seeded untrained checkpoint, fp32. */
async function untrainedFiles(name: string): Promise<Map<string, Uint8Array>> {
  const variant = VARIANTS[name];
  if (!variant) return (await untrainedCheckpoint(name, SEED, 'fp32')).files;
  const preset = PRESETS[variant.preset];
  const model = createModel(preset.kind, { ...preset.model, ...variant.model });
  const params = model.init(SEED);
  try {
    const meta = { ...preset.meta, name, data: { ...preset.meta.data, shape: variant.shape }, training: { steps: 0, note: 'untrained' } };
    return (await exportCheckpoint(model, params, meta, 'fp32')).files;
  } finally {
    tf.dispose([...params.values()]);
  }
}

/** The model folders under models/: every directory holding a manifest.json. */
async function shippedModels(): Promise<string[]> {
  const dir = join(ROOT, 'models');
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory() && (await stat(join(dir, e.name, 'manifest.json')).catch(() => undefined))) found.push(join(dir, e.name));
  }
  return found.sort();
}

/** Images in the int8 comparison: two 2D images, or one volume (tens of thousands of voxels already). */
const psnrImages = (shape: number[]) => (shape.length === 3 ? 1 : 2);

/** A manifest's metadata, for re-encoding its tensors. */
function metaOf(m: Manifest) {
  const { format: _f, version: _v, quantization: _q, shards: _s, tensors: _t, ...meta } = m;
  return meta;
}

/** fp32 and int8 folders of a preset's perturbed seeded initialisation. */
async function presetCheckpoints(name: string, dir: string): Promise<{ fp32: string; int8: string; shape: number[] }> {
  const { manifest, tensors } = await loadCheckpoint(memorySource(await untrainedFiles(name)));
  const perturbed = new Map<string, HostTensor>();
  [...tensors].forEach(([key, t], i) => {
    // The learned schedule's weights keep their init: noise there would bend the noise schedule itself.
    if (key.startsWith(GAMMA_PREFIX)) return perturbed.set(key, t);
    const noise = new Rng(SEED + 1, i).normal(t.data.length);
    perturbed.set(key, { shape: t.shape, data: t.data.map((v, j) => v + PERTURB_STD * noise[j]) });
  });
  const meta = { ...metaOf(manifest), training: { steps: 0, note: `bench: seeded init + N(0, ${PERTURB_STD}^2) noise, not trained` } };
  const out = { fp32: join(dir, name, 'fp32'), int8: join(dir, name, 'int8'), shape: manifest.data.shape };
  for (const q of ['fp32', 'int8'] as const) await writeCheckpointFolder(out[q], (await encodeCheckpoint(perturbed, meta, { quantization: q })).files);
  return out;
}

/** The int8 comparison for a shipped model: its own int8 export when it ships fp32, otherwise why none. */
async function shippedComparison(modelDir: string, dir: string): Promise<{ fp32: string; int8: string; shape: number[] } | { skipped: string }> {
  const { manifest, tensors } = await loadCheckpoint(folderSource(modelDir));
  if (manifest.quantization !== 'fp32') return { skipped: `ships as ${manifest.quantization}: no fp32 reference to compare with` };
  const int8 = join(dir, `${manifest.name}-int8`);
  await writeCheckpointFolder(int8, (await encodeCheckpoint(tensors, metaOf(manifest), { quantization: 'int8' })).files);
  return { fp32: modelDir, int8, shape: manifest.data.shape };
}

/** Runs measure.ts on `job` in a fresh process; resolves with its result or an error record. */
async function runChild(job: MeasureJob, jobFile: string, maxSeconds: number): Promise<Record<string, unknown>> {
  await writeFile(jobFile, JSON.stringify(job));
  await rm(job.resultFile, { force: true });
  let stderr = '';
  const code = await new Promise<number | string>((done) => {
    const child = spawn(process.execPath, ['--import', TSX, MEASURE, jobFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), maxSeconds * 1000);
    child.on('close', (c, signal) => {
      clearTimeout(timer);
      done(c ?? signal ?? 'unknown');
    });
  });
  try {
    return JSON.parse(await readFile(job.resultFile, 'utf8'));
  } catch {
    const last = stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn')).slice(-1)[0];
    return { backend: job.backend, dir: job.dir, error: `measurement process exited with ${code}${last ? `: ${last}` : ''}` };
  }
}

function summaryLine(target: string, r: Record<string, any>): string {
  if (r.error) return `${target} on ${r.backend}: failed: ${r.error}`;
  const q = r.quantization && !r.quantization.skipped ? `, int8 ${r.quantization.psnrDb} dB at ${r.quantization.sizeRatio}x size` : '';
  return (
    `${target} on ${r.backend}: step ${r.latency.stepMs} ms (network ${r.latency.networkMs} ms), image ${r.latency.timeToImageMs} ms ` +
    `(${r.sampler.name} x ${r.sampler.steps})${r.flops ? `, ${r.flops.gflopPerCall} GFLOP/call, ${r.flops.networkGflopsPerSecond} GFLOP/s` : ''}, ` +
    `conv/matmul ${(r.kernels.convMatmulShare * 100).toFixed(1)}% of kernel time (${(r.kernels.convMatmulWallShare * 100).toFixed(1)}% of wall), ` +
    `tensors ${r.memory.tensorPeakMiB} MiB${r.memory.wasmHeapMiB !== undefined ? `, wasm heap ${r.memory.wasmHeapMiB} MiB` : ''}, RSS ${r.memory.peakRssMiB} MiB, ` +
    `load ${r.load.coldMs} ms cold / ${r.load.cachedMs} ms cached${q}`
  );
}

export async function main(argv: string[]): Promise<string> {
  const s = settingsFrom(argv);
  const loadStart = loadavg();
  // Which backends exist here; the parent then prepares checkpoints on cpu.
  const available: BackendName[] = [];
  const unavailable: { backend: BackendName; reason: string }[] = [];
  for (const b of s.backends) {
    try {
      await selectBackend(b);
      available.push(b);
    } catch (e) {
      unavailable.push({ backend: b, reason: (e as Error).message });
    }
  }
  await selectBackend('cpu');

  const work = await mkdtemp(join(tmpdir(), 'medsynth-bench-sampling-'));
  try {
    const targets: { target: string; source: 'preset' | 'model'; dir: string; quantization: MeasureJob['quantization']; backends: BackendName[] }[] = [];
    for (const p of s.presets) {
      const { fp32, int8, shape } = await presetCheckpoints(p, work);
      const backends = available.filter((b) => b !== 'cpu' || s.onCpu(p));
      targets.push({ target: p, source: 'preset', dir: fp32, quantization: { fp32, int8, count: psnrImages(shape), steps: s.steps }, backends });
    }
    for (const dir of s.models ?? (s.quick ? [] : await shippedModels())) {
      const q = await shippedComparison(resolve(dir), work);
      const quantization = 'skipped' in q ? q : { fp32: q.fp32, int8: q.int8, count: psnrImages(q.shape), steps: s.steps };
      targets.push({ target: resolve(dir), source: 'model', dir: resolve(dir), quantization, backends: available });
    }

    const results = [];
    for (const t of targets) {
      for (const [i, backend] of t.backends.entries()) {
        const job: MeasureJob = {
          backend,
          dir: t.dir,
          runs: s.runs,
          warmup: s.warmup,
          imageRuns: s.imageRuns,
          imageSeconds: s.imageSeconds,
          steps: s.steps,
          // PSNR is a property of the weights (backends agree to ~1e-6): measured on the first backend only.
          quantization: i === 0 ? t.quantization : undefined,
          resultFile: join(work, 'result.json'),
        };
        const r = await runChild(job, join(work, 'job.json'), s.maxSeconds);
        console.log(summaryLine(t.source === 'preset' ? t.target : `model ${t.target}`, r as Record<string, any>));
        results.push({ target: t.source === 'preset' ? t.target : t.target.replace(ROOT, ''), source: t.source, ...r });
      }
    }

    const date = new Date().toISOString();
    const report = {
      bench: 'sampling',
      date,
      machine: machineInfo(loadStart),
      settings: {
        runs: s.runs,
        warmup: s.warmup,
        imageRuns: s.imageRuns,
        imageSeconds: s.imageSeconds,
        batch: 1,
        quick: s.quick,
        stepsOverride: s.steps ?? null,
        presetWeights: `seeded init (trainer/untrained.ts, seed ${SEED}) + N(0, ${PERTURB_STD}^2) noise, fp32`,
        statistic: 'median over runs after warm-up calls; each (checkpoint, backend) in a fresh process',
        variants: VARIANTS,
      },
      backends: { measured: available, unavailable },
      results,
    };
    const out = s.out ? resolve(s.out) : join(ROOT, 'bench/results', `sampling-${date.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
    await mkdir(join(out, '..'), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${out}`);
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
