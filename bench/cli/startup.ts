// `npm run bench:cli`: how long `medsynth --help` and `--version` take to
// start and exit, as an installed package runs them (the compiled dist/node,
// built first) and as a checkout runs them (TypeScript through tsx), beside
// `node -e 0` for the floor, interleaved in one run; median of --runs each.
//   tsx bench/cli/startup.ts [--runs 9] [--out file.json]
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { packagePath } from '../../sampler/node/package-files.ts';
import { machineInfo } from '../common/machine.ts';
import { median, round1 } from '../common/stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string' }, out: { type: 'string' }, quick: { type: 'boolean' } } });
const runs = values.quick ? 2 : Number(values.runs ?? 9);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);

const built = spawnSync(process.execPath, ['--import', 'tsx', packagePath('scripts', 'build.ts')], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('npm run build failed');

const compiled = packagePath('dist', 'node', 'cli', 'entry.js');
const configs: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'compiled --help': ['-e', `import(${JSON.stringify(compiled)}).then((m) => m.run(['--help']))`],
  'compiled --version': ['-e', `import(${JSON.stringify(compiled)}).then((m) => m.run(['--version']))`],
  'checkout --help (tsx)': [packagePath('bin', 'medsynth.js'), '--help'],
};
const loadStart = loadavg();
const ms: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
for (let r = 0; r < runs; r++) {
  for (const [name, args] of Object.entries(configs)) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, args, { stdio: 'ignore' });
    if (p.status !== 0) throw new Error(`${name} exited ${p.status}`);
    ms[name].push(performance.now() - t0);
  }
}
const results = Object.entries(ms).map(([name, times]) => ({ name, runsMs: times.map(round1), medianMs: round1(median(times)) }));
for (const r of results) console.log(`${r.name}: ${r.medianMs} ms (median of ${runs})`);
const report = { bench: 'cli', time: new Date().toISOString(), machine: machineInfo(loadStart), settings: { runs }, results };
const out = values.out ?? packagePath('bench', 'results', `cli-${report.time.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
await mkdir(join(out, '..'), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${out}`);
