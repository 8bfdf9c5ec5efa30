// `npm run bench:engines`: the network engines side by side in one run, on the
// shipped models: tfjs wasm (one thread) against onnxruntime-node at 1 and at
// every core's threads, same model, same input and seed, the configurations
// interleaved round by round so a busy machine slows all alike. Per model and
// engine: one network call at batch 1 as the sampler makes it (grid
// conditioning precomputed), analytic GFLOP/s, and time-to-image with the
// manifest's sampler and steps (the same images: largest difference to wasm
// over the range); for onnxruntime also the graph build at load (recording
// the network, creating the session). With --hand, also models/default's
// recorded graph against the same network exported by hand (hand-export.ts).
// Writes bench/results/engines-<time>.json.
//   tsx bench/sampling/engines.ts [--models dir,dir] [--runs 7] [--rounds 3] [--quick] [--hand hand.onnx] [--out file.json]
import { availableParallelism, loadavg } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { selectBackend } from '../../sampler/backend.ts';
import { generate, planGeneration, type GenerationPlan } from '../../sampler/generate.ts';
import { GridConditioning } from '../../sampler/grid-conditioning.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { networkEngine, useNetworkEngine, type NetworkEngine } from '../../sampler/network-engine.ts';
import { onnxEngine, sessionOptions } from '../../sampler/onnx/engine.ts';
import { networkGraph } from '../../sampler/onnx/network.ts';
import { machineInfo } from '../common/machine.ts';
import { median } from '../common/stats.ts';
import { canCountFlops, countFlops } from './flops.ts';
import { compareHandExport } from './hand-export.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_MODELS = ['default', 'brain-ct-vdm-2d-64', 'brain-ct-ldm-3d-32', 'cxr-2d-64'].map((m) => join(ROOT, 'models', m));
const round = (v: number | undefined, digits = 1) => (v === undefined ? undefined : Math.round(v * 10 ** digits) / 10 ** digits);

interface Config {
  name: string;
  threads: number;
  /** undefined: tfjs itself on the active (wasm) backend. */
  engine?: NetworkEngine;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(value)) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

/** The denoiser's input at batch 1: the image, or a latent model's latent grid. */
const callShape = (m: LoadedModel) => [1, ...(m.model.decode ? m.model.input.shape! : m.manifest.data.shape), m.model.input.channels];

/** Median wall ms of `runs` network calls at batch 1 (after one warm call), through the installed engine. */
async function callMs(m: LoadedModel, plan: GenerationPlan, runs: number): Promise<number> {
  const shape = callShape(m);
  const tNet = m.schedule.networkTime(plan.grid[0].t);
  const labels = plan.label === undefined ? undefined : [plan.label];
  const conditioning = new GridConditioning(m.model, m.params, [tNet]);
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  try {
    const net = networkEngine().net(m, conditioning);
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      const out = await net(x, tNet, labels);
      await out.data();
      out.dispose();
      if (i > 0) times.push(performance.now() - t0);
    }
    return median(times)!;
  } finally {
    x.dispose();
    conditioning.dispose();
  }
}

/** Median wall ms of `runs` whole images (seed 0, batch 1, the manifest's sampler), and the last image. */
async function imageMs(m: LoadedModel, runs: number, steps?: number): Promise<{ ms: number; data: Float32Array; range: [number, number] }> {
  const times: number[] = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = (await generate(m, { count: 1, batchSize: 1, seed: 0, ...(steps ? { steps } : {}) })).images[0];
    times.push(performance.now() - t0);
  }
  return { ms: median(times)!, data: last!.data, range: last!.range };
}

/** Median ms of recording the network graph (int8 weights int8, as the engine builds it) and of creating its session, batch 1. */
async function buildMs(m: LoadedModel, runs: number, threads: number): Promise<{ recordMs: number; sessionMs: number; graphMiB: number }> {
  const shape = callShape(m);
  const record: number[] = [];
  const session: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    const graph = networkGraph(m.model, m.params, shape, m.int8Weights);
    record.push(performance.now() - t0);
    bytes = graph.bytes.length;
    t0 = performance.now();
    const s = await ort.InferenceSession.create(graph.bytes, sessionOptions({ threads }));
    session.push(performance.now() - t0);
    await s.release();
  }
  return { recordMs: median(record)!, sessionMs: median(session)!, graphMiB: bytes / 2 ** 20 };
}

export async function main(argv: string[]): Promise<string> {
  const { values } = parseArgs({ args: argv, options: { models: { type: 'string' }, runs: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' }, quick: { type: 'boolean' }, hand: { type: 'string' } } });
  const quick = values.quick ?? false;
  const runs = positiveInt('runs', values.runs, quick ? 2 : 7);
  const rounds = positiveInt('rounds', values.rounds, quick ? 1 : 3);
  const models = values.models?.split(',').filter(Boolean).map((d) => resolve(d)) ?? (quick ? DEFAULT_MODELS.slice(0, 1) : DEFAULT_MODELS);
  const cores = availableParallelism();
  const loadStart = loadavg();
  const defaultModel = join(ROOT, 'models', 'default');
  if (values.hand !== undefined && !models.includes(defaultModel)) throw new Error('--hand compares against models/default: include it in --models');
  const hand = values.hand === undefined ? undefined : await readFile(resolve(values.hand)).catch((e: Error) => {
    throw new Error(`--hand ${values.hand}: cannot read the hand-exported ONNX file (make it with bench/sampling/hand-export/unet2d.py): ${e.message}`);
  });

  // tfjs wasm runs the samplers' own math for every configuration; the configurations differ in who runs the network.
  await selectBackend('wasm');
  const configs: Config[] = [
    { name: 'tfjs-wasm', threads: 1 },
    { name: 'onnxruntime-1', threads: 1, engine: onnxEngine(ort, { threads: 1 }) },
    ...(cores > 1 ? [{ name: `onnxruntime-${cores}`, threads: cores, engine: onnxEngine(ort, { threads: cores }) }] : []),
  ];

  const results = [];
  for (const dir of models) {
    const m = await loadModel(dir);
    try {
      const gflop = canCountFlops(m.model.kind) ? countFlops(m.model, callShape(m)).total / 1e9 : undefined;
      const plan = planGeneration(m, { count: 1, batchSize: 1, ...(quick ? { steps: 2 } : {}) });
      const calls = new Map<string, number[]>(configs.map((c) => [c.name, []]));
      const images = new Map<string, number[]>(configs.map((c) => [c.name, []]));
      const lastImage = new Map<string, { data: Float32Array; range: [number, number] }>();
      for (let r = 0; r < rounds; r++) {
        for (const c of configs) {
          useNetworkEngine(c.engine);
          calls.get(c.name)!.push(await callMs(m, plan, runs));
          const im = await imageMs(m, quick ? 1 : 2, quick ? 2 : undefined);
          images.get(c.name)!.push(im.ms);
          lastImage.set(c.name, im);
        }
      }
      useNetworkEngine(undefined);
      const build = await buildMs(m, quick ? 1 : 3, 1);
      const ref = lastImage.get('tfjs-wasm')!;
      const wasmCall = median(calls.get('tfjs-wasm')!)!;
      const wasmImage = median(images.get('tfjs-wasm')!)!;
      const engines = configs.map((c) => {
        const call = median(calls.get(c.name)!)!;
        const image = median(images.get(c.name)!)!;
        const mine = lastImage.get(c.name)!;
        let worst = 0;
        for (let i = 0; i < ref.data.length; i++) worst = Math.max(worst, Math.abs(mine.data[i] - ref.data[i]));
        return {
          engine: c.name,
          threads: c.threads,
          callMs: round(call),
          gflopsPerSecond: gflop === undefined ? undefined : round(gflop / (call / 1000)),
          timeToImageMs: round(image),
          /** Against tfjs wasm in this run. */
          callSpeedup: round(wasmCall / call, 2),
          imageSpeedup: round(wasmImage / image, 2),
          /** Largest |difference| of the image to tfjs wasm's, over the intensity range. */
          maxDiffOfRange: Number((worst / (ref.range[1] - ref.range[0])).toExponential(2)),
          runs: { callMs: calls.get(c.name)!.map((v) => round(v)), timeToImageMs: images.get(c.name)!.map((v) => round(v)) },
        };
      });
      const handExport = hand && dir === defaultModel ? await compareHandExport(m, hand, cores > 1 ? [1, cores] : [1], rounds * 3, runs) : undefined;
      const row = {
        model: dir.replace(ROOT, ''),
        kind: m.manifest.kind,
        quantization: m.manifest.quantization,
        gflopPerCall: round(gflop, 4),
        sampler: { name: plan.sampler.name, steps: plan.steps, guidance: plan.guidance },
        onnxBuild: { recordMs: round(build.recordMs), sessionMs: round(build.sessionMs), graphMiB: round(build.graphMiB, 2) },
        engines,
        /** models/default against the hand export (--hand): per-call ms on onnxruntime per thread count. */
        handExport,
      };
      for (const e of engines) console.log(`${row.model} ${e.engine}: call ${e.callMs} ms (${e.gflopsPerSecond ?? '-'} GFLOP/s, x${e.callSpeedup}), image ${e.timeToImageMs} ms (x${e.imageSpeedup}), diff ${e.maxDiffOfRange}`);
      for (const h of handExport ?? []) console.log(`${row.model} recorded vs hand export, ${h.threads} thread(s): ${h.recordedMs} vs ${h.handMs} ms (x${h.ratio})`);
      console.log(`${row.model} onnx build: record ${row.onnxBuild.recordMs} ms, session ${row.onnxBuild.sessionMs} ms, ${row.onnxBuild.graphMiB} MiB`);
      results.push(row);
    } finally {
      m.dispose();
    }
  }

  const date = new Date().toISOString();
  const report = {
    bench: 'engines',
    date,
    machine: machineInfo(loadStart),
    settings: { runs, rounds, batch: 1, seed: 0, quick, statistic: 'median over rounds of the median of runs (calls) / of 2 images per round', interleaved: configs.map((c) => c.name) },
    results,
  };
  const out = values.out ? resolve(values.out) : join(ROOT, 'bench/results', `engines-${date.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
