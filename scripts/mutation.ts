// `npm run test:mutation [module ...]`: Stryker over each core module in turn,
// judged by that module's own unit tests, then a score table. Writes
// reports/mutation/<module>.{json,html} and reports/mutation/summary.json.
// Long (minutes to an hour a module on 2 cores), so not part of `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const MODULES: Record<string, { mutate: string[]; tests: string[] }> = {
  rng: { mutate: ['shared/rng.ts'], tests: ['test/shared/rng.test.ts'] },
  schedules: { mutate: ['shared/schedules/**/*.ts'], tests: ['test/shared/schedules/**/*.test.ts'] },
  samplers: { mutate: ['shared/samplers/**/*.ts'], tests: ['test/shared/samplers/**/*.test.ts'] },
  checkpoint: { mutate: ['shared/checkpoint/**/*.ts'], tests: ['test/shared/checkpoint/**/*.test.ts'] },
  'request-plan': { mutate: ['shared/request-plan.ts', 'shared/request-error.ts'], tests: ['test/shared/request-plan.test.ts', 'test/worker/app-samples.test.ts'] },
  preprocess: { mutate: ['trainer/preprocess/**/*.ts'], tests: ['test/trainer/preprocess/**/*.test.ts'] },
  metrics: { mutate: ['trainer/evaluate/metrics/**/*.ts'], tests: ['test/trainer/evaluate/metrics/**/*.test.ts'] },
  limits: { mutate: ['worker/limits/**/*.ts'], tests: ['test/worker/limits/**/*.test.ts'] },
};

interface Score {
  mutants: number;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  /** Mutants the TypeScript checker refused: not counted. */
  compileErrors: number;
  /** (killed + timeout) / (killed + timeout + survived + noCoverage), in %. */
  score: number;
}

/** Counts of a mutation-testing-report-schema JSON report. */
function scoreOf(file: string): Score {
  const report = JSON.parse(readFileSync(file, 'utf8')) as { files: Record<string, { mutants: { status: string }[] }> };
  const count = (status: string) => Object.values(report.files).reduce((n, f) => n + f.mutants.filter((m) => m.status === status).length, 0);
  const s = { killed: count('Killed'), timeout: count('Timeout'), survived: count('Survived'), noCoverage: count('NoCoverage'), compileErrors: count('CompileError') };
  const valid = s.killed + s.timeout + s.survived + s.noCoverage;
  return { mutants: valid + s.compileErrors, ...s, score: valid ? Math.round((1000 * (s.killed + s.timeout)) / valid) / 10 : 100 };
}

const asked = process.argv.slice(2);
for (const name of asked) if (!Object.hasOwn(MODULES, name)) throw new Error(`unknown module "${name}"; modules: ${Object.keys(MODULES).join(', ')}`);
mkdirSync('reports/mutation', { recursive: true });
const summaryFile = 'reports/mutation/summary.json';
const summary: Record<string, Score & { seconds: number }> = (() => {
  try {
    return JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    return {};
  }
})();
for (const name of asked.length ? asked : Object.keys(MODULES)) {
  const { mutate, tests } = MODULES[name];
  const t0 = Date.now();
  const r = spawnSync('npx', ['stryker', 'run', '--mutate', mutate.join(',')], {
    stdio: 'inherit',
    env: { ...process.env, MEDSYNTH_MUTATION_MODULE: name, MEDSYNTH_MUTATION_TESTS: tests.join(',') },
  });
  if (r.status !== 0) throw new Error(`stryker failed on ${name} (exit ${r.status})`);
  summary[name] = { ...scoreOf(`reports/mutation/${name}.json`), seconds: Math.round((Date.now() - t0) / 1000) };
  writeFileSync(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
}
console.log('| module | mutants | killed | timeout | survived | no coverage | score % |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, s] of Object.entries(summary)) {
  console.log(`| ${name} | ${s.mutants - s.compileErrors} | ${s.killed} | ${s.timeout} | ${s.survived} | ${s.noCoverage} | ${s.score} |`);
}
