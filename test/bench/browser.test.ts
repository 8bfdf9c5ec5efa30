// The browser bench's smoke run in real headless Chromium: the JSON it
// writes has the browser and Node runs, their ratio, and the cold and cached
// loads, and the cached load reads every shard from the Cache API. No timing
// is asserted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bench/browser/browser.ts';
import { NO_CHROMIUM } from '../browser/chromium.ts';
import { positive } from '../helpers/matchers.ts';

let dir: string;
let report: Record<string, any>;


describe.skipIf(NO_CHROMIUM)('bench/browser --quick', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medsynth-bench-browser-'));
    const out = await main(['--quick', '--out', join(dir, 'report.json')]);
    report = JSON.parse(await readFile(out, 'utf8'));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('records the machine, the browser and the settings', () => {
    expect(report).toMatchObject({
      bench: 'browser',
      machine: { cpu: expect.any(String), cores: positive, memoryGiB: positive, node: expect.any(String), chromium: expect.stringMatching(/^\d+\./) },
      settings: { model: 'default', warmup: 1, runs: 2, quick: true, options: { count: 1, seed: 0, steps: 2, batchSize: 1 } },
    });
    expect(report.machine.loadAverage.start).toHaveLength(3);
    expect(report.machine.loadAverage.end).toHaveLength(3);
  });

  it('times the same generation on wasm in the browser and in Node, with their ratio', () => {
    expect(report.browser).toMatchObject({ backend: { name: 'wasm' }, threads: positive, medianMs: positive });
    expect(report.node).toMatchObject({ backend: { name: 'wasm' }, threads: positive, medianMs: positive });
    expect(report.browser.runsMs).toHaveLength(2);
    expect(report.node.runsMs).toHaveLength(2);
    expect(report.ratio).toBeCloseTo(report.browser.medianMs / report.node.medianMs, 2);
    expect(report.ratioMeaning).toEqual(expect.any(String));
    // Same seed and options on the same backend: the same image (up to float rounding).
    expect(report.sameImageMaxDiff).toBeLessThanOrEqual(1e-3);
  });

  it('downloads the shards on the cold load and reads them all from the cache on the cached one', () => {
    const shards = report.settings.checkpoint.shards;
    expect(report.coldLoad).toMatchObject({ firstImageMs: positive, loadMs: positive, shards: { cached: 0, fetched: shards }, shardRequests: shards });
    expect(report.cachedLoad).toMatchObject({ firstImageMs: positive, loadMs: positive, shards: { cached: shards, fetched: 0 }, shardRequests: 0 });
    expect(report.cachedLoad.requests).toContain(`/v1/models/default/manifest.json`);
  });
});
