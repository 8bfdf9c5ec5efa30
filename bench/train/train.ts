// npm run bench:train: training throughput per preset and backend.
//
//   npm run bench:train -- [--presets a,b] [--backends wasm,cpu,tensorflow] [--threads 1,2] [--runs 5] [--warmup 1] [--out file.json]
//
// Each (preset, backend, threads) times `runs` optimiser steps after `warmup`
// untimed ones, at the preset's own batch size and accumulation, on synthetic
// smooth images of the preset's shape (throughput does not depend on
// content), and reports the median; the thread counts (data-parallel steps,
// Trainer.useThreads; default 1 and every core) run interleaved step by step,
// with each one's speed-up over the first. Writes bench/results/train-<time>.json.
// SLOW_PRESETS (minutes per step on a CPU) run only when named in --presets.
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { parseBackendName, selectBackend } from '../../sampler/backend.ts';
import { PRESETS } from '../../trainer/presets.ts';
import { Trainer, type ExampleSet } from '../../trainer/trainer.ts';
import { median } from '../common/stats.ts';

const { values } = parseArgs({
  options: { presets: { type: 'string' }, backends: { type: 'string' }, threads: { type: 'string' }, runs: { type: 'string' }, warmup: { type: 'string' }, out: { type: 'string' } },
});
/** Minutes per step on a CPU: run only when named in --presets. */
const SLOW_PRESETS = ['cxr-vdm-256', 'cxr-latent-vdm-256'];
const presets = values.presets?.split(',') ?? Object.keys(PRESETS).filter((p) => !SLOW_PRESETS.includes(p));
for (const p of presets) if (!Object.hasOwn(PRESETS, p)) throw new Error(`--presets: unknown preset "${p}"`);
const backends = (values.backends ?? 'wasm').split(',').map(parseBackendName);
const runs = Number(values.runs ?? 5);
const warmup = Number(values.warmup ?? 1);
if (!(Number.isInteger(runs) && runs >= 1 && Number.isInteger(warmup) && warmup >= 0)) throw new Error('--runs must be >= 1 and --warmup >= 0, integers');
const threadCounts = (values.threads ?? (availableParallelism() > 1 ? `1,${availableParallelism()}` : '1')).split(',').map(Number);
if (!threadCounts.every((t) => Number.isInteger(t) && t >= 1 && t <= 64)) throw new Error(`--threads must be integers in 1..64, got "${values.threads}"`);

/** Smooth synthetic examples in [-1, 1] of one preset's shape. */
function syntheticSet(shape: number[], n = 8): ExampleSet {
  const size = shape.reduce((a, b) => a * b, 1);
  const items = Array.from({ length: n }, (_, k) => ({ x: Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.013 * (k + 1))) }));
  return { shape: [...shape, 1], size: n, get: (i) => items[i] };
}

const results: Record<string, unknown>[] = [];
for (const backend of backends) {
  const choice = await selectBackend(backend, { tfjsOnly: true });
  for (const name of presets) {
    const preset = PRESETS[name];
    const data = syntheticSet(preset.meta.data.shape);
    // One trainer per thread count, their steps interleaved so a busy machine slows all alike.
    const trainers = threadCounts.map(() => Trainer.create({ kind: preset.kind, model: preset.model, meta: preset.meta }, { ...preset.train, steps: warmup + runs }));
    const seconds = threadCounts.map((): number[] => []);
    let error: string | undefined;
    try {
      for (const [k, trainer] of trainers.entries()) {
        await trainer.useThreads(threadCounts[k]);
        for (let i = 0; i < warmup; i++) await trainer.trainStep(data);
      }
      for (let i = 0; i < runs; i++) {
        for (const [k, trainer] of trainers.entries()) {
          const t0 = performance.now();
          await trainer.trainStep(data);
          seconds[k].push((performance.now() - t0) / 1000);
        }
      }
    } catch (e) {
      error = (e as Error).message; // recorded, e.g. a wasm heap exhausted by a preset too large for it
    }
    const examples = trainers[0].config.batchSize * trainers[0].config.accumulate;
    for (const trainer of trainers) {
      try {
        trainer.dispose();
      } catch {
        // a crashed wasm heap cannot free; the next backend starts afresh
      }
    }
    const oneThread = error ? undefined : median(seconds[0])!;
    threadCounts.forEach((threads, k) => {
      const perStep = error ? undefined : median(seconds[k])!;
      const row = perStep
        ? { preset: name, backend: choice.name, threads, batch: examples, secondsPerStep: perStep, stepsPerSecond: 1 / perStep, imagesPerSecond: examples / perStep, speedupVsFirst: oneThread! / perStep, runs: seconds[k] }
        : { preset: name, backend: choice.name, threads, batch: examples, error };
      console.log(perStep ? `${name} on ${choice.name}, ${threads} thread(s): ${perStep.toFixed(3)} s/step, ${(examples / perStep).toFixed(2)} images/s (batch ${examples}, median of ${runs}, x${(oneThread! / perStep).toFixed(2)})` : `${name} on ${choice.name}: failed: ${error}`);
      results.push(row);
    });
  }
}
const cpu = cpus();
const report = {
  bench: 'train',
  date: new Date().toISOString(),
  machine: { cpu: cpu[0]?.model, cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, tfjs: tf.version_core },
  settings: { runs, warmup, threads: threadCounts, data: 'synthetic smooth images of each preset shape' },
  results,
};
const file = values.out ? resolve(values.out) : fileURLToPath(new URL(`../results/train-${report.date.replace(/[:.]/g, '').slice(0, 17)}Z.json`, import.meta.url));
await mkdir(dirname(file), { recursive: true });
await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${file}`);
