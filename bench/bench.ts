// `npm run bench`: every speed figure in one JSON file (bench/results/bench-<time>.json).
//
// Runs each part as its own process, one after another, so no part's heap,
// JIT or threads affect another's, and merges their JSON under its name:
//   pool      images/s with 1..cores sampler threads (bench/pool/pool.ts)
//   browser   Chromium wasm against Node wasm, cached second load (bench/browser/browser.ts)
//   steps     fast samplers against 300-step DDPM on the default model, and
//             the smallest passing step count (bench/sampling/steps.ts)
//   sampling  per preset and shipped model on each backend: step latency, time
//             to image, GFLOP and GFLOP/s, conv/matmul share, peak memory,
//             cold/cached load, int8 vs fp32 (bench/sampling/sampling.ts)
//   engines   tfjs wasm against onnxruntime at 1 and all threads, interleaved:
//             per-call ms, GFLOP/s, time to image, graph build (bench/sampling/engines.ts)
//   train     training throughput per preset (bench/train/train.ts)
//   server    HTTP load on loopback (bench/server/load.ts)
// The report is rewritten (atomically) after every part, so an interrupted
// run keeps what it measured. A part that fails is recorded with its exit
// code and output tail and the others still run; the exit status is 1 when
// any failed.
//   tsx bench/bench.ts [--only a,b] [--skip a,b] [--quick] [--out file.json]
//     [--backends wasm,cpu] [--presets a,b] [--models dir,dir] [--write-manifest]
// --quick runs each part's smoke settings (minutes in all). --backends,
// --presets and --models go to `sampling` (default: every available backend,
// preset and shipped model; an empty list, --models=, measures none);
// --write-manifest to `steps` (records the pick in models/default/manifest.json). A full run on a
// 2-core machine takes about two hours, most of it sampling on the cpu
// backend and the two 300-step DDPM sets of `steps`.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './common/machine.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Part {
  script: string;
  /** Extra arguments for a --quick run (parts without a --quick flag of their own get small settings). */
  quick: string[];
}

export const PARTS: Record<string, Part> = {
  pool: { script: 'bench/pool/pool.ts', quick: ['--count', '2', '--steps', '2', '--runs', '2'] },
  browser: { script: 'bench/browser/browser.ts', quick: ['--quick'] },
  steps: { script: 'bench/sampling/steps.ts', quick: ['--quick'] },
  sampling: { script: 'bench/sampling/sampling.ts', quick: ['--quick'] },
  engines: { script: 'bench/sampling/engines.ts', quick: ['--quick'] },
  train: { script: 'bench/train/train.ts', quick: ['--presets', 'tiny-mri-2d-16', '--runs', '2', '--warmup', '1'] },
  cli: { script: 'bench/cli/startup.ts', quick: ['--quick'] },
  server: { script: 'bench/server/load.ts', quick: ['--requests', '16', '--runs', '1', '--clients', '4'] },
};

function partList(flag: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').filter(Boolean);
  for (const n of names) if (!Object.hasOwn(PARTS, n)) throw new Error(`--${flag}: unknown part "${n}"; parts: ${Object.keys(PARTS).join(', ')}`);
  return names;
}

/** Runs one part with `--out`, echoing its output; resolves to its exit code and the last lines it printed. */
function runPart(part: Part, args: string[]): Promise<{ code: number; tail: string; seconds: number }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, part.script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer, to: NodeJS.WriteStream) => {
      to.write(chunk);
      tail = (tail + chunk.toString()).slice(-2000);
    };
    child.stdout.on('data', (c: Buffer) => keep(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => keep(c, process.stderr));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code: code ?? (signal ? 128 : 1), tail, seconds: (performance.now() - started) / 1000 }));
  });
}

export async function main(argv: string[]): Promise<{ out: string; failed: string[] }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      skip: { type: 'string' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      backends: { type: 'string' },
      presets: { type: 'string' },
      models: { type: 'string' },
      'write-manifest': { type: 'boolean' },
    },
  });
  const passed: Record<string, string[]> = {
    sampling: (['backends', 'presets', 'models'] as const).flatMap((k) => (values[k] === undefined ? [] : [`--${k}=${values[k]}`])),
    steps: values['write-manifest'] ? ['--write-manifest'] : [],
  };
  const only = partList('only', values.only);
  const skip = partList('skip', values.skip) ?? [];
  const names = (only ?? Object.keys(PARTS)).filter((n) => !skip.includes(n));
  if (!names.length) throw new Error('--only/--skip: no part left to run');
  const quick = values.quick ?? false;
  const started = new Date();
  const out = values.out ? resolve(values.out) : join(ROOT, 'bench/results', `bench-${started.toISOString().replace(/[:.]/g, '').slice(0, 17)}Z.json`);
  const scratch = await mkdtemp(join(tmpdir(), 'medsynth-bench-'));
  const parts: Record<string, unknown> = {};
  const failed: string[] = [];
  const loadStart = loadavg();
  const write = async (done: boolean) => {
    const report = {
      bench: 'all',
      started: started.toISOString(),
      finished: done ? new Date().toISOString() : undefined,
      command: `npm run bench --${argv.length ? ` ${argv.join(' ')}` : ''}`,
      machine: machineInfo(loadStart),
      settings: { quick, parts: names },
      failed,
      parts,
    };
    await mkdir(dirname(out), { recursive: true });
    // Atomic: a reader never sees half a report.
    await writeFile(`${out}.tmp`, `${JSON.stringify(report, null, 2)}\n`);
    await rename(`${out}.tmp`, out);
  };
  try {
    for (const name of names) {
      const part = PARTS[name];
      const partOut = join(scratch, `${name}.json`);
      const args = [...(quick ? part.quick : []), ...(passed[name] ?? []), '--out', partOut];
      console.log(`\n== ${name}: tsx ${part.script} ${args.join(' ')}`);
      const r = await runPart(part, args);
      const report = await readFile(partOut, 'utf8').then(JSON.parse, () => undefined);
      if (r.code !== 0 || report === undefined) {
        failed.push(name);
        parts[name] = { error: `exit code ${r.code}${report === undefined ? ', no report written' : ''}`, outputTail: r.tail, seconds: Math.round(r.seconds), ...(report ? { report } : {}) };
      } else {
        parts[name] = { seconds: Math.round(r.seconds), report };
      }
      await write(name === names[names.length - 1]);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  console.log(`\nwrote ${out}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`);
  return { out, failed };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    ({ failed }) => process.exit(failed.length ? 1 : 0),
    (e: Error) => {
      console.error(`bench: ${e.message}`);
      process.exit(2);
    },
  );
}
