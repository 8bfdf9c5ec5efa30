// npm run bench:train: training throughput per preset and backend.
//
//   npm run bench:train -- [--presets a,b] [--backends wasm,cpu,tensorflow] [--runs 5] [--warmup 1] [--out file.json]
//
// Each (preset, backend) times `runs` optimiser steps after `warmup` untimed
// ones, at the preset's own batch size and accumulation, on synthetic smooth
// images of the preset's shape (throughput does not depend on content), and
// reports the median. Writes bench/results/train-<time>.json. cxr-vdm-256
// (minutes per step on a CPU) runs only when named in --presets.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { parseBackendName, selectBackend } from '../../sampler/backend.ts';
import { PRESETS } from '../../trainer/presets.ts';
import { Trainer, type ExampleSet } from '../../trainer/trainer.ts';
import { median } from '../common/stats.ts';

const { values } = parseArgs({
  options: { presets: { type: 'string' }, backends: { type: 'string' }, runs: { type: 'string' }, warmup: { type: 'string' }, out: { type: 'string' } },
});
const presets = values.presets?.split(',') ?? Object.keys(PRESETS).filter((p) => p !== 'cxr-vdm-256');
for (const p of presets) if (!Object.hasOwn(PRESETS, p)) throw new Error(`--presets: unknown preset "${p}"`);
const backends = (values.backends ?? 'wasm').split(',').map(parseBackendName);
const runs = Number(values.runs ?? 5);
const warmup = Number(values.warmup ?? 1);
if (!(Number.isInteger(runs) && runs >= 1 && Number.isInteger(warmup) && warmup >= 0)) throw new Error('--runs must be >= 1 and --warmup >= 0, integers');

/** Smooth synthetic examples in [-1, 1] of one preset's shape. */
function syntheticSet(shape: number[], n = 8): ExampleSet {
  const size = shape.reduce((a, b) => a * b, 1);
  const items = Array.from({ length: n }, (_, k) => ({ x: Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.013 * (k + 1))) }));
  return { shape: [...shape, 1], size: n, get: (i) => items[i] };
}

const results = [];
for (const backend of backends) {
  const choice = await selectBackend(backend, { tfjsOnly: true });
  for (const name of presets) {
    const preset = PRESETS[name];
    const trainer = Trainer.create({ kind: preset.kind, model: preset.model, meta: preset.meta }, { ...preset.train, steps: warmup + runs });
    const data = syntheticSet(preset.meta.data.shape);
    const seconds: number[] = [];
    let error: string | undefined;
    try {
      for (let i = 0; i < warmup; i++) trainer.trainStep(data);
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        trainer.trainStep(data);
        seconds.push((performance.now() - t0) / 1000);
      }
    } catch (e) {
      error = (e as Error).message; // recorded, e.g. a wasm heap exhausted by a preset too large for it
    }
    const examples = trainer.config.batchSize * trainer.config.accumulate;
    try {
      trainer.dispose();
    } catch {
      // a crashed wasm heap cannot free; the next backend starts afresh
    }
    const perStep = error ? undefined : median(seconds)!;
    const row = perStep
      ? { preset: name, backend: choice.name, batch: examples, secondsPerStep: perStep, stepsPerSecond: 1 / perStep, imagesPerSecond: examples / perStep, runs: seconds }
      : { preset: name, backend: choice.name, batch: examples, error };
    console.log(perStep ? `${name} on ${choice.name}: ${perStep.toFixed(3)} s/step, ${(examples / perStep).toFixed(2)} images/s (batch ${examples}, median of ${runs})` : `${name} on ${choice.name}: failed: ${error}`);
    results.push(row);
  }
}
const cpu = cpus();
const report = {
  bench: 'train',
  date: new Date().toISOString(),
  machine: { cpu: cpu[0]?.model, cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, tfjs: tf.version_core },
  settings: { runs, warmup, data: 'synthetic smooth images of each preset shape' },
  results,
};
const file = values.out ? resolve(values.out) : fileURLToPath(new URL(`../results/train-${report.date.replace(/[:.]/g, '').slice(0, 17)}Z.json`, import.meta.url));
await mkdir(dirname(file), { recursive: true });
await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${file}`);
