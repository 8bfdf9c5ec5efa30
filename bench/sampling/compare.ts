// Before and after in one run: the networks of another commit (default: the
// one before this file's efficiency work) against the working tree's, same
// parameters, same input, calls interleaved so a busy machine slows both
// alike. Per preset: median wall and CPU time of one network call at batch
// --batch, the conv/matmul share of kernel time for each, and the largest
// output difference relative to the largest output.
//   tsx bench/sampling/compare.ts [--ref 974073f] [--presets brain-mri-2d-64,brain-mri-3d-32]
//     [--backend wasm] [--runs 7] [--batch 1] [--out file.json]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { parseBackendName, selectBackend } from '../../sampler/backend.ts';
import { createModel } from '../../shared/models/index.ts';
import type { Model } from '../../shared/models/types.ts';
import { Rng } from '../../shared/rng.ts';
import { PRESETS } from '../../trainer/presets.ts';
import { median } from '../common/stats.ts';
import { profileKernels } from './profile.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The last commit before the per-step work on the models (issue 8). */
const DEFAULT_REF = '974073f';

/** `git archive ref shared` unpacked in `dir`, with this checkout's node_modules (so both use one tfjs). */
async function checkout(ref: string, dir: string): Promise<void> {
  await new Promise<void>((done, fail) => {
    const git = spawn('git', ['archive', ref, 'shared'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
    git.stdout.pipe(tar.stdin);
    let err = '';
    git.stderr.on('data', (d: Buffer) => (err += d));
    tar.on('close', (code) => (code === 0 && !err ? done() : fail(new Error(`git archive ${ref}: ${err.trim() || `tar exited ${code}`}`))));
  });
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { ref: { type: 'string' }, presets: { type: 'string' }, backend: { type: 'string' }, runs: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' } },
  });
  const ref = values.ref ?? DEFAULT_REF;
  const presets = (values.presets ?? 'brain-mri-2d-64,brain-mri-3d-32').split(',');
  for (const p of presets) if (!Object.hasOwn(PRESETS, p)) throw new Error(`--presets: unknown preset "${p}"`);
  const runs = Number(values.runs ?? 7);
  const batch = Number(values.batch ?? 1);
  if (!(Number.isInteger(runs) && runs >= 1 && Number.isInteger(batch) && batch >= 1)) throw new Error('--runs and --batch must be positive integers');
  const backend = (await selectBackend(parseBackendName(values.backend ?? 'wasm'))).name;

  const dir = await mkdtemp(join(tmpdir(), 'medsynth-compare-'));
  try {
    await checkout(ref, dir);
    const before = (await import(pathToFileURL(join(dir, 'shared/models/index.ts')).href)) as { createModel: typeof createModel };
    const results = [];
    for (const name of presets) {
      const p = PRESETS[name];
      const models: Record<'before' | 'after', Model<unknown>> = { before: before.createModel(p.kind, p.model), after: createModel(p.kind, p.model) };
      // The seeded init with small noise on every weight, so every layer matters (the output layer starts at zero).
      const params = new Map([...models.after.init(1)].map(([k, v], i) => [k, tf.tidy(() => tf.add(v, tf.tensor(new Rng(7, i).normal(v.size).map((z) => z * 0.05), v.shape)))] as const));
      const shape = [batch, ...p.meta.data.shape, p.meta.data.channels];
      const x = tf.tensor(new Rng(3).normal(shape.reduce((a, b) => a * b, 1)), shape);
      const t = tf.fill([batch], 0.5) as tf.Tensor1D;
      const call = (m: Model<unknown>) => m.apply(params, x, t);
      const read = (m: Model<unknown>) => {
        const out = call(m);
        const data = out.dataSync() as Float32Array;
        out.dispose();
        return data;
      };
      try {
        const a = read(models.before);
        const b = read(models.after);
        const maxOut = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
        const wall = { before: [] as number[], after: [] as number[] };
        const cpu = { before: [] as number[], after: [] as number[] };
        for (let r = 0; r < runs; r++) {
          for (const k of ['before', 'after'] as const) {
            const c0 = cpuMs();
            const t0 = performance.now();
            read(models[k]);
            wall[k].push(performance.now() - t0);
            cpu[k].push(cpuMs() - c0);
          }
        }
        const side = async (k: 'before' | 'after') => {
          const pr = await profileKernels(() => call(models[k]), runs);
          return {
            wallMs: Math.round(median(wall[k])! * 10) / 10,
            cpuMs: Math.round(median(cpu[k])! * 10) / 10,
            convMatmulShare: Math.round(pr.kernelShare * 1000) / 1000,
            // Over the unprofiled calls' median wall time: also counts the time between kernels.
            convMatmulWallShare: Math.round(Math.min(1, pr.convMatmulMs / median(wall[k])!) * 1000) / 1000,
            kernels: pr.kernels.slice(0, 12).map((k2) => ({ name: k2.name, calls: k2.calls, ms: Math.round(k2.ms * 100) / 100 })),
          };
        };
        const row = { preset: name, batch, before: await side('before'), after: await side('after'), maxRelativeDifference: maxOut > 0 ? maxDiff / maxOut : 0 };
        console.log(
          `${name} (batch ${batch}, ${backend}): ${row.before.wallMs} -> ${row.after.wallMs} ms per call (CPU ${row.before.cpuMs} -> ${row.after.cpuMs} ms), ` +
            `conv/matmul ${(row.before.convMatmulShare * 100).toFixed(1)}% -> ${(row.after.convMatmulShare * 100).toFixed(1)}% of kernel time, ` +
            `outputs within ${row.maxRelativeDifference.toExponential(1)} relative`,
        );
        results.push(row);
      } finally {
        tf.dispose([x, t, ...params.values()]);
      }
    }
    const date = new Date().toISOString();
    const report = { bench: 'compare', date, ref, backend, runs, machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadAverage: loadavg() }, results };
    const out = values.out ? resolve(values.out) : join(ROOT, 'bench/results', `compare-${date.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
    await mkdir(join(out, '..'), { recursive: true });
    await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${out}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main(process.argv.slice(2));
