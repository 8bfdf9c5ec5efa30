// `npm run bench:pool`: images per second from the sampler thread pool with
// 1, 2, ... threads (up to the core count) in one run, on the embedded
// default model, so the ratio compares like with like. Each configuration
// generates `--count` images `--runs` times after one warm-up; the JSON keeps
// every run and the median.
//   tsx bench/pool/pool.ts [--model models/default] [--count 8] [--steps 20] [--runs 5] [--backend wasm] [--out file.json]
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseBackendName } from '../../sampler/backend.ts';
import { createSamplerPool } from '../../sampler/node/pool.ts';
import { median, round1 } from '../common/stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

const { values } = parseArgs({ options: Object.fromEntries(['model', 'count', 'steps', 'runs', 'backend', 'out'].map((k) => [k, { type: 'string' as const }])) });
const model = values.model ?? join(ROOT, 'models/default');
const count = positiveInt('count', values.count, 8);
const steps = positiveInt('steps', values.steps, 20);
const runs = positiveInt('runs', values.runs, 5);
const backend = parseBackendName(values.backend ?? 'wasm');
const cores = availableParallelism();

const configs = [];
for (let threads = 1; threads <= cores; threads++) {
  const pool = await createSamplerPool(model, { threads, backend });
  try {
    const options = { count, steps, seed: 0, batchSize: 1 };
    await pool.generate({ ...options, count: threads }); // warm-up: every thread compiles its kernels once
    const seconds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await pool.generate(options);
      seconds.push((performance.now() - t0) / 1000);
    }
    const s = median(seconds)!;
    configs.push({ threads, seconds: seconds.map(round1), medianSeconds: round1(s), imagesPerSecond: Math.round((count / s) * 1000) / 1000 });
    console.log(`${threads} thread(s): ${(count / s).toFixed(3)} images/s (median of ${runs}, ${count} images x ${steps} steps)`);
  } finally {
    await pool.close();
  }
}
const base = configs[0].imagesPerSecond;
const report = {
  bench: 'pool',
  time: new Date().toISOString(),
  // The 1-minute load average at the end: other work on the machine lowers the ratio.
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage1m: loadavg()[0] },
  settings: { model, count, steps, runs, backend, batchSize: 1 },
  configs: configs.map((c) => ({ ...c, speedup: Math.round((c.imagesPerSecond / base) * 100) / 100 })),
};
const out = values.out ?? join(ROOT, 'bench/results', `pool-${report.time.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
await mkdir(join(out, '..'), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${out}`);
