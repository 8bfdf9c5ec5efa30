// bench:engines --quick end to end on models/default, with --hand given the
// recorded graph itself (the real hand export needs PyTorch): the figures a
// user reads are there, finite and consistent, and a hand export with other
// inputs is refused by name.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bench/sampling/engines.ts';
import { compareHandExport } from '../../bench/sampling/hand-export.ts';
import { selectBackend } from '../../sampler/backend.ts';
import { loadModel } from '../../sampler/load.ts';
import { networkGraph } from '../../sampler/onnx/network.ts';
import { recordGraph } from '../../sampler/onnx/record.ts';

let dir: string;
let hand: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medsynth-engines-'));
  await selectBackend('wasm');
  const m = await loadModel('models/default');
  try {
    hand = join(dir, 'self.onnx');
    await writeFile(hand, networkGraph(m.model, m.params, [1, 64, 64, 1], m.int8Weights).bytes);
  } finally {
    m.dispose();
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

describe('bench:engines --quick --hand', () => {
  it('reports per-call and time-to-image figures per engine, the graph build, and the hand-export ratio', async () => {
    const report = JSON.parse(await readFile(await main(['--quick', '--hand', hand, '--out', join(dir, 'engines.json')]), 'utf8'));
    const [row] = report.results;
    expect(row.model).toBe('models/default');
    expect(row.engines.map((e: { engine: string }) => e.engine.replace(/-\d+$/, '')).slice(0, 2)).toEqual(['tfjs-wasm', 'onnxruntime']);
    for (const e of row.engines) {
      for (const k of ['callMs', 'timeToImageMs', 'callSpeedup', 'imageSpeedup', 'gflopsPerSecond']) expect(positive(e[k]), `${e.engine} ${k}`).toBe(true);
      expect(e.maxDiffOfRange).toBeGreaterThanOrEqual(0);
      expect(e.maxDiffOfRange).toBeLessThan(1e-2); // 2 steps of the same network: rounding only
    }
    expect(row.engines[0].callSpeedup).toBe(1);
    for (const k of ['recordMs', 'sessionMs', 'graphMiB']) expect(positive(row.onnxBuild[k]), k).toBe(true);
    // The recorded graph against itself: the same work, so any ratio far from 1 is a timing bug.
    expect(row.handExport[0].threads).toBe(1);
    for (const h of row.handExport) {
      expect(positive(h.recordedMs) && positive(h.handMs)).toBe(true);
      expect(h.ratio).toBeGreaterThan(0.5);
      expect(h.ratio).toBeLessThan(2);
    }
  });

  it('refuses a hand export whose inputs are not the recorded graph\'s, and a missing file', async () => {
    const other = recordGraph('other', (r) => [tf.add(r.input('y', [1, 64, 64, 1]), 1)]);
    const m = await loadModel('models/default');
    try {
      await expect(compareHandExport(m, other, [1], 1, 1)).rejects.toThrow(/--hand: the hand export's inputs \(y\) are not the recorded graph's \(scale0,/);
    } finally {
      m.dispose();
    }
    await expect(main(['--quick', '--hand', join(dir, 'missing.onnx')])).rejects.toThrow(/--hand .*missing\.onnx: cannot read the hand-exported ONNX file/);
  });
});
