// One (checkpoint, backend) measurement of the sampling bench, run in a
// fresh process so the first checkpoint load is a cold one and the wasm heap
// and peak RSS belong to this model alone. sampling.ts starts one per pair:
//   node --import tsx bench/sampling/measure.ts <job.json>
// and reads the result from the job's resultFile.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendName } from '../../sampler/backend.ts';
import { generate, planGeneration, type GenerateOptions } from '../../sampler/generate.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { psnr } from '../../trainer/evaluate/metrics/psnr.ts';
import { median } from '../common/stats.ts';
import { canCountFlops, countFlops } from './flops.ts';
import { profileKernels, type KernelProfile } from './profile.ts';

export interface MeasureJob {
  backend: BackendName;
  /** The checkpoint timed (a folder). */
  dir: string;
  /** Runs after warm-up, for network calls, sampler steps and whole images. */
  runs: number;
  warmup: number;
  /** Timed images (each a whole generate call, after the warm network calls), at most this many... */
  imageRuns: number;
  /** ...while this many seconds have not passed since the first (at least one image is timed). */
  imageSeconds: number;
  /** Overrides the manifest's step count for time-to-image (smoke runs only). */
  steps?: number;
  /** int8 against fp32: the two folders compared, or why not. */
  quantization?: { fp32: string; int8: string; count: number; steps?: number } | { skipped: string };
  resultFile: string;
}

const MiB = 2 ** 20;
const round = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? v : Math.round(v * 10 ** digits) / 10 ** digits);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The wasm module's heap size in bytes (grows, never shrinks), or undefined off wasm. */
function wasmHeapBytes(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.length;
}

async function timedLoad(dir: string): Promise<{ model: LoadedModel; ms: number }> {
  const t0 = performance.now();
  const model = await loadModel(dir);
  return { model, ms: performance.now() - t0 };
}

export async function measure(job: MeasureJob) {
  const processStart = performance.now();
  const tInit = performance.now();
  const choice = await selectBackend(job.backend);
  const backendInitMs = performance.now() - tInit;
  const heapAtStart = wasmHeapBytes();

  // Checkpoint load: the first in this process (cold: module code not yet compiled, wasm heap not grown;
  // the file bytes may sit in the OS page cache), then `runs` more with everything warm (cached, the median).
  const cold = await timedLoad(job.dir);
  cold.model.dispose();
  const cachedLoads: number[] = [];
  for (let i = 1; i < job.runs; i++) {
    const again = await timedLoad(job.dir);
    again.model.dispose();
    cachedLoads.push(again.ms);
  }
  const { model: m, ms: lastLoad } = await timedLoad(job.dir);
  cachedLoads.push(lastLoad);
  try {
    const manifest = m.manifest;
    const plan = planGeneration(m, { count: 1, batchSize: 1, ...(job.steps ? { steps: job.steps } : {}) });
    const shape = [1, ...manifest.data.shape, manifest.data.channels];
    const callsPerStep = plan.guidance !== 1 ? 2 : 1;
    const flops = canCountFlops(m.model.kind) ? countFlops(m.model, shape) : undefined;

    // One network call at batch 1, as the sampler makes it at the first grid point.
    const x = tf.randomNormal(shape);
    const t = tf.fill([1], plan.grid[0].t) as tf.Tensor1D;
    const label = plan.label === undefined ? undefined : (tf.tensor1d([plan.label], 'int32') as tf.Tensor1D);
    const call = () => m.model.apply(m.params, x, t, label ? { label } : undefined);
    const networkMs: number[] = [];
    let profile: KernelProfile;
    try {
      for (let i = 0; i < job.warmup; i++) {
        const out = call();
        out.dataSync();
        out.dispose();
      }
      for (let i = 0; i < job.runs; i++) {
        const t0 = performance.now();
        const out = call();
        out.dataSync();
        networkMs.push(performance.now() - t0);
        out.dispose();
      }
      profile = await profileKernels(call, job.runs);
    } finally {
      tf.dispose([x, t, label]);
    }

    // Whole images with the manifest's sampler and steps (everything is warm by now); step latencies from the progress callback.
    const stepMs: number[] = [];
    const imageMs: number[] = [];
    const imageCpuMs: number[] = [];
    let peakRss = process.memoryUsage().rss;
    let peakJsHeap = process.memoryUsage().heapUsed;
    const options: GenerateOptions = { count: 1, batchSize: 1, seed: 0, ...(job.steps ? { steps: job.steps } : {}) };
    const imagesStart = performance.now();
    while (imageMs.length < job.imageRuns && (imageMs.length === 0 || performance.now() - imagesStart < job.imageSeconds * 1000)) {
      const c0 = cpuMs();
      const t0 = performance.now();
      let last = t0;
      await generate(m, options, {
        onProgress: () => {
          const now = performance.now();
          stepMs.push(now - last);
          last = now;
          const mem = process.memoryUsage();
          peakRss = Math.max(peakRss, mem.rss);
          peakJsHeap = Math.max(peakJsHeap, mem.heapUsed);
        },
      });
      imageMs.push(performance.now() - t0);
      imageCpuMs.push(cpuMs() - c0);
    }

    const perStep = median(stepMs)!;
    const perCall = median(networkMs)!;
    const gflopPerCall = flops ? flops.total / 1e9 : undefined;
    const heapAtEnd = wasmHeapBytes();
    const result = {
      backend: choice.name,
      checkpoint: { name: manifest.name, kind: manifest.kind, quantization: manifest.quantization, dir: job.dir },
      sampler: { name: plan.sampler.name, steps: plan.steps, networkCallsPerStep: callsPerStep },
      latency: {
        /** One sampler step (network call, sampler update, event-loop yield), batch 1. */
        stepMs: round(perStep),
        /** One network call alone, batch 1. */
        networkMs: round(perCall),
        timeToImageMs: round(median(imageMs)),
        timeToImageCpuMs: round(median(imageCpuMs)),
        runs: { networkMs: networkMs.map((v) => round(v)), imageMs: imageMs.map((v) => round(v)) },
      },
      flops: flops && {
        gflopPerCall: round(gflopPerCall, 4),
        gflopPerStep: round(gflopPerCall! * callsPerStep, 4),
        split: { convolution: round(flops.convolution / 1e9, 4), dense: round(flops.dense / 1e9, 4), attention: round(flops.attention / 1e9, 4) },
        achievedGflopsPerSecond: round((gflopPerCall! * callsPerStep) / (perStep / 1000), 2),
        networkGflopsPerSecond: round(gflopPerCall! / (perCall / 1000), 2),
      },
      kernels: {
        /** Share of summed backend-kernel time inside conv/matmul kernels (tf.profile, median of runs). */
        convMatmulShare: round(profile.kernelShare, 3),
        /** The same conv/matmul time over an unprofiled call's median wall time (networkMs: also counts the time between kernels). */
        convMatmulWallShare: round(Math.min(1, profile.convMatmulMs / perCall), 3),
        convMatmulMs: round(profile.convMatmulMs),
        kernelMs: round(profile.kernelMs),
        profiledWallMs: round(profile.wallMs),
        byKernel: profile.kernels.map((k) => ({ name: k.name, calls: k.calls, ms: round(k.ms, 2) })),
      },
      memory: {
        /** Peak bytes held by tensors during one network call (tf.memory's logical count). */
        tensorPeakMiB: round(profile.peakBytes / MiB),
        /** V8 heap in use, peak over the timed images (with the wasm heap: what an isolate such as a Worker holds). */
        jsHeapMiB: round(peakJsHeap / MiB),
        wasmHeapMiB: heapAtEnd === undefined ? undefined : round(heapAtEnd / MiB),
        wasmHeapGrowthMiB: heapAtEnd === undefined || heapAtStart === undefined ? undefined : round((heapAtEnd - heapAtStart) / MiB),
        peakRssMiB: round(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / MiB),
      },
      load: { coldMs: round(cold.ms), cachedMs: round(median(cachedLoads)), backendInitMs: round(backendInitMs) },
      quantization: job.quantization && ('skipped' in job.quantization ? job.quantization : await compareInt8(job.quantization)),
      processMs: round(performance.now() - processStart),
    };
    return result;
  } finally {
    m.dispose();
  }
}

/**
 * int8 against fp32 on the same seeds through DDIM with eta 0 (deterministic,
 * so any difference is the quantisation's): checkpoint size ratio and the
 * PSNR of the outputs over their intensity range.
 */
async function compareInt8(q: { fp32: string; int8: string; count: number; steps?: number }) {
  const fp32 = await loadModel(q.fp32);
  const int8 = await loadModel(q.int8);
  try {
    const options: GenerateOptions = { count: q.count, batchSize: q.count, seed: 0, sampler: 'ddim', eta: 0, ...(q.steps ? { steps: q.steps } : {}) };
    const a = (await generate(fp32, options)).images;
    const b = (await generate(int8, options)).images;
    const values = a.map((ai, i) => psnr(ai.data, b[i].data, ai.range[1] - ai.range[0]));
    const bytes = (m: LoadedModel) => m.manifest.shards.reduce((s, sh) => s + sh.bytes, 0);
    return {
      sampler: 'ddim',
      eta: 0,
      steps: planGeneration(fp32, options).steps,
      images: q.count,
      /** Mean over images; identical outputs (Infinity) count as 100 dB. */
      psnrDb: round(values.reduce((s, v) => s + Math.min(v, 100), 0) / values.length, 2),
      minPsnrDb: round(Math.min(...values), 2),
      sizeRatio: round(bytes(int8) / bytes(fp32), 4),
      bytes: { fp32: bytes(fp32), int8: bytes(int8) },
    };
  } finally {
    fp32.dispose();
    int8.dispose();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const job = JSON.parse(await readFile(process.argv[2], 'utf8')) as MeasureJob;
  let result: unknown;
  try {
    result = await measure(job);
  } catch (e) {
    result = { backend: job.backend, dir: job.dir, error: String((e as Error)?.message ?? e).split('\n')[0] };
  }
  await writeFile(job.resultFile, JSON.stringify(result));
}
