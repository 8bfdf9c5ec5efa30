// `npm run bench` in its smoke form: the parts run as their own processes and
// land in one JSON under their names, with the machine and the command; a bad
// part name is refused by name. No timing is asserted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, PARTS } from '../../bench/bench.ts';
import { positive } from '../helpers/matchers.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medsynth-bench-all-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('bench/bench.ts', () => {
  it('merges the parts it ran into one report', async () => {
    const { out, failed } = await main(['--quick', '--only', 'pool,train', '--out', join(dir, 'all.json')]);
    expect(failed).toEqual([]);
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report).toMatchObject({
      bench: 'all',
      command: 'npm run bench -- --quick --only pool,train --out ' + join(dir, 'all.json'),
      machine: { cores: positive, node: process.version },
      settings: { quick: true, parts: ['pool', 'train'] },
    });
    expect(Object.keys(report.parts)).toEqual(['pool', 'train']);
    // Each part's own report, whole: the pool's thread counts, the trainer's preset.
    expect(report.parts.pool.report.configs[0]).toMatchObject({ threads: 1, imagesPerSecond: positive, speedup: 1 });
    expect(report.parts.train.report.results[0]).toMatchObject({ preset: 'tiny-mri-2d-16', backend: 'wasm', secondsPerStep: positive });
  }, 300_000);

  it('refuses an unknown part, naming the flag and the parts', async () => {
    await expect(main(['--only', 'sampling,warp'])).rejects.toThrow(`--only: unknown part "warp"; parts: ${Object.keys(PARTS).join(', ')}`);
    await expect(main(['--only', 'pool', '--skip', 'pool'])).rejects.toThrow(/no part left/);
  });
});
