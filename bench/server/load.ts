// `npm run bench:server`: a load benchmark of the Node server, on loopback
// only, bounded in requests and time. Each scenario runs `--runs` times on a
// fresh server; the JSON keeps every run and the median of each figure.
// Correctness is checked, speed is only reported: the exit status is 1 when
// any answer was not 200, 429 or 503, or a connection was lost, never for a
// slow run.
//   tsx bench/server/load.ts [--clients 16] [--requests 200] [--max-seconds 120]
//     [--runs 3] [--steps 2] [--backoff-ms 100] [--backend tensorflow|onnxruntime|wasm|cpu] [--threads 1] [--out file.json]
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseBackendName } from '../../sampler/backend.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { tinyCheckpointFiles } from '../../test/worker/fixtures.ts';
import { EXPECTED_STATUSES, runOnce, type RunResult, type RunSettings, type Scenario } from './run.ts';
import { median, round1 } from '../common/stats.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

function settingsFrom(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      ['clients', 'requests', 'max-seconds', 'runs', 'steps', 'backoff-ms', 'backend', 'threads', 'out'].map((k) => [k, { type: 'string' as const }]),
    ),
  });
  const settings: RunSettings = {
    clients: positiveInt('clients', values.clients, 16),
    requests: positiveInt('requests', values.requests, 200),
    maxSeconds: positiveInt('max-seconds', values['max-seconds'], 120),
    backoffMs: positiveInt('backoff-ms', values['backoff-ms'], 100),
    backend: values.backend === undefined ? undefined : parseBackendName(values.backend),
    threads: positiveInt('threads', values.threads, 1),
  };
  return { settings, runs: positiveInt('runs', values.runs, 3), steps: positiveInt('steps', values.steps, 2), out: values.out };
}

/**
 * The shipped limits (one client's rate limit of 30/min ends most of a burst
 * in 429s), then the rate limit lifted so the work queue (1 running, 8
 * waiting) decides: that run measures sampling throughput. A tiny 16x16
 * model keeps the server, not tfjs, the subject; the embedded 64x64 model
 * shows a real one.
 */
function scenarios(tinyDir: string, steps: number): Scenario[] {
  const lifted = { rateLimit: { requests: 1_000_000 } };
  return [
    { name: 'tiny 16x16, shipped limits', modelsDir: tinyDir, model: 'tiny', body: { steps }, config: {} },
    { name: 'tiny 16x16, rate limit lifted', modelsDir: tinyDir, model: 'tiny', body: { steps }, config: lifted },
    { name: 'default 64x64, rate limit lifted', modelsDir: join(ROOT, 'models'), model: 'default', body: { steps }, config: lifted },
  ];
}

const medians = (runs: RunResult[]) => ({
  requestsPerSecond: round1(median(runs.map((r) => r.requestsPerSecond))),
  okPerSecond: round1(median(runs.map((r) => r.okPerSecond))),
  okP50Ms: round1(median(runs.map((r) => r.okP50Ms))),
  okP99Ms: round1(median(runs.map((r) => r.okP99Ms))),
  peakRssMiB: round1(median(runs.map((r) => r.rssMiB.peak))),
});

function line(name: string, i: number, r: RunResult): string {
  const counts = EXPECTED_STATUSES.map((s) => `${s}:${r.statuses[s] ?? 0}`).join(' ');
  return (
    `${name} #${i + 1}: ${r.sent} sent in ${r.seconds} s (${counts}${r.failures.length ? ` FAILURES:${r.failures.length}` : ''}` +
    `${r.cutAtCap ? ` cut at cap:${r.cutAtCap}` : ''}), ${r.requestsPerSecond} req/s, ${r.okPerSecond} ok/s, ` +
    `200 p50 ${r.okP50Ms ?? '-'} ms p99 ${r.okP99Ms ?? '-'} ms, RSS peak ${r.rssMiB.peak} MiB ` +
    `(first quarter ${r.rssMiB.firstQuarterMean}, last ${r.rssMiB.lastQuarterMean}), tensors ${r.tensors.before}->${r.tensors.after}`
  );
}

async function main(argv: string[]): Promise<number> {
  const { settings, runs, steps, out } = settingsFrom(argv);
  const tmp = await mkdtemp(join(tmpdir(), 'medsynth-bench-'));
  try {
    await writeCheckpointFolder(join(tmp, 'tiny'), await tinyCheckpointFiles());
    const results = [];
    let backend: string | undefined;
    for (const scenario of scenarios(tmp, steps)) {
      const done: RunResult[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await runOnce(scenario, settings);
        backend ??= r.backend;
        console.log(line(scenario.name, i, r));
        done.push(r);
      }
      results.push({ name: scenario.name, model: scenario.model, request: scenario.body, config: scenario.config, runs: done, median: medians(done) });
    }
    const failures = results.flatMap((s) => s.runs.flatMap((r) => r.failures.map((f) => `${s.name}: ${f}`)));
    const report = {
      bench: 'server-load',
      date: new Date().toISOString(),
      machine: { node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMiB: Math.round(totalmem() / 2 ** 20), freeMemMiB: Math.round(freemem() / 2 ** 20) },
      backend,
      settings: { ...settings, runs, steps },
      scenarios: results,
      ok: failures.length === 0,
      failures,
    };
    const path = out ?? join(ROOT, 'bench', 'results', `server-${report.date.slice(0, 19).replace(/:/g, '')}Z.json`);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
    for (const s of results) console.log(`median, ${s.name}: ${JSON.stringify(s.median)}`);
    console.log(`wrote ${path}`);
    if (failures.length) console.error(`FAILED: ${failures.length} answer(s) outside ${EXPECTED_STATUSES.join('/')} or lost connections:\n${failures.slice(0, 20).join('\n')}`);
    return failures.length ? 1 : 0;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((e: Error) => {
  console.error(`bench:server: ${e.message}`);
  return 2;
});
