// `npm run bench:steps`: fewer steps at equal quality. On one model, N samples
// with 300-step ancestral DDPM (the reference), a second independent
// DDPM-300 set (the sampling-noise floor), and N samples with each fast
// sampler at each step count; each set is compared with the reference by
// sliced Wasserstein distance (Laplacian-pyramid SWD, x 1e3) and by the mean
// MS-SSIM over cross pairs (one image from each set).
//
// "Within sampling noise" comes from a permutation test on the two DDPM sets:
// their pooled 2N images are split at random into two halves of N, again and
// again; the distances between halves are what two sets from one distribution
// show at this N. A set passes when its SWD to the reference is at most the
// 95th percentile of those SWDs and its cross MS-SSIM lies inside their
// central 95% interval. The pick is the smallest step count that passes, with
// the first sampler in --samplers order that passes at it; --write-manifest
// records it (sampler, steps, eta) as the model's sampler settings.
// A sampler is a name, or name:eta for DDIM's stochasticity (ddim:1 draws
// fresh noise every step, as ancestral DDPM does; ddim and ddim:0 are the
// deterministic DDIM).
//
//   tsx bench/sampling/steps.ts [--model models/default] [--count 32] [--reference-steps 300]
//     [--steps 10,15,20,25,50] [--samplers dpm-solver++,ddim:1] [--permutations 40]
//     [--threads N] [--backend wasm] [--batch 4] [--seed 0] [--out file.json] [--write-manifest] [--quick]
//
// This is long on a CPU: at N = 32 on the 64x64 default model, the two
// DDPM-300 sets are 19200 image-steps and the default curve 7680 more
// (about 35 minutes on 2 wasm threads).
// --quick: 4 images, an 8-step reference, steps 2 and 3, 4 permutations,
// small SWD settings (a smoke run).
import { rename, readFile, writeFile, mkdir } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseBackendName } from '../../sampler/backend.ts';
import type { GenerateOptions } from '../../sampler/generate.ts';
import { createSamplerPool, type SamplerPool } from '../../sampler/node/pool.ts';
import { Rng } from '../../shared/rng.ts';
import { SAMPLER_NAMES } from '../../shared/samplers/index.ts';
import { msSsim } from '../../trainer/evaluate/metrics/ms-ssim.ts';
import { slicedWasserstein, slicesOf, type SwdOptions } from '../../trainer/evaluate/metrics/swd.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function ints(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const out = value.split(',').map(Number);
  if (!out.length || out.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`--${name} must be positive integers separated by commas, got "${value}"`);
  return out;
}

function seedOf(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new Error(`--seed must be a non-negative integer, got "${value}"`);
  return Number(value);
}

/** A sampler on the curve: a name, and DDIM's eta (0 unless given as ddim:eta). */
interface SamplerSpec {
  name: NonNullable<GenerateOptions['sampler']>;
  eta: number;
  /** As given, e.g. "ddim:1": the curve's label. */
  label: string;
}

function samplerSpec(text: string): SamplerSpec {
  const [name, etaText, ...rest] = text.split(':');
  if (!(SAMPLER_NAMES as readonly string[]).includes(name)) throw new Error(`--samplers: unknown sampler "${name}"; known: ${SAMPLER_NAMES.join(', ')}`);
  const eta = etaText === undefined ? 0 : Number(etaText);
  if (rest.length || !(etaText === undefined || (etaText !== '' && eta >= 0 && eta <= 1))) throw new Error(`--samplers: "${text}": expected name or name:eta with eta in [0, 1]`);
  if (eta !== 0 && name !== 'ddim') throw new Error(`--samplers: "${text}": only ddim takes an eta`);
  return { name: name as SamplerSpec['name'], eta, label: text };
}

function settingsFrom(argv: string[]) {
  const text = { type: 'string' } as const;
  const { values } = parseArgs({
    args: argv,
    options: {
      model: text,
      count: text,
      'reference-steps': text,
      steps: text,
      samplers: text,
      permutations: text,
      threads: text,
      backend: text,
      batch: text,
      seed: text,
      out: text,
      'write-manifest': { type: 'boolean' },
      quick: { type: 'boolean' },
    },
  });
  const quick = values.quick ?? false;
  const one = (name: string, v: string | undefined, fallback: number) => ints(name, v, [fallback])[0];
  const samplers = (values.samplers ?? (quick ? 'dpm-solver++' : 'dpm-solver++,ddim:1')).split(',').map(samplerSpec);
  const count = one('count', values.count, quick ? 4 : 32);
  if (count < 2) throw new Error('--count must be at least 2 (MS-SSIM and permutations need pairs)');
  return {
    quick,
    model: resolve(values.model ?? join(ROOT, 'models/default')),
    count,
    referenceSteps: one('reference-steps', values['reference-steps'], quick ? 8 : 300),
    steps: ints('steps', values.steps, quick ? [2, 3] : [10, 15, 20, 25, 50]),
    samplers,
    permutations: one('permutations', values.permutations, quick ? 4 : 40),
    threads: one('threads', values.threads, quick ? 1 : availableParallelism()),
    backend: parseBackendName(values.backend ?? 'wasm'),
    batch: one('batch', values.batch, 4),
    seed: seedOf(values.seed),
    swd: (quick ? { patches: 256, projections: 32 } : {}) satisfies SwdOptions,
    out: values.out,
    writeManifest: values['write-manifest'] ?? false,
  };
}

interface SampleSet {
  /** One Float32Array per image (single channel), over `shape` ([H, W] or [D, H, W]). */
  images: Float32Array[];
  shape: number[];
  range: number;
  seconds: number;
}

async function sampleSet(pool: SamplerPool, options: GenerateOptions, label: string): Promise<SampleSet> {
  const t0 = performance.now();
  const result = await pool.generate(options);
  const seconds = (performance.now() - t0) / 1000;
  const first = result.images[0];
  const channels = first.shape[first.shape.length - 1];
  if (channels !== 1) throw new Error(`steps bench: single-channel images only, got ${channels} channels`);
  console.log(`${label}: ${result.images.length} images in ${seconds.toFixed(1)} s`);
  return { images: result.images.map((i) => i.data), shape: first.shape.slice(0, -1), range: first.range[1] - first.range[0], seconds };
}

/** SWD needs 2D images: a volume counts as its axial slices. */
function planes(set: Float32Array[], shape: number[]): { images: Float32Array[]; shape: number[] } {
  if (shape.length === 2) return { images: set, shape };
  return { images: set.flatMap((v) => slicesOf(v, shape as [number, number, number], 0)), shape: shape.slice(1) };
}

/** Mean MS-SSIM over pairs (x_i, y_j), all of them or a seeded sample of `maxPairs`. */
function crossMsSsim(x: Float32Array[], y: Float32Array[], shape: number[], range: number, maxPairs = 256, seed = 0): number {
  const pairs: [number, number][] = [];
  if (x.length * y.length <= maxPairs) {
    for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) pairs.push([i, j]);
  } else {
    const rng = new Rng(seed, 7);
    for (let p = 0; p < maxPairs; p++) pairs.push([rng.int(x.length), rng.int(y.length)]);
  }
  return pairs.reduce((s, [i, j]) => s + msSsim(x[i], y[j], shape, range), 0) / pairs.length;
}

interface Distance {
  /** SWD x 1e3, mean over pyramid levels, and per level (finest first). */
  swd: number;
  swdLevels: number[];
  crossMsSsim: number;
}

function distance(x: Float32Array[], y: Float32Array[], shape: number[], range: number, swd: SwdOptions): Distance {
  const px = planes(x, shape);
  const py = planes(y, shape);
  const r = slicedWasserstein(px.images, py.images, px.shape, swd);
  return { swd: r.mean, swdLevels: r.levels.map((l) => l.swd), crossMsSsim: crossMsSsim(x, y, shape, range) };
}

/** The q-quantile (0..1) by nearest rank of sorted values. */
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Distances between random halves of the two reference sets pooled: the null distribution of "same sampler". */
function nullDistances(a: Float32Array[], b: Float32Array[], shape: number[], range: number, permutations: number, swd: SwdOptions, seed: number): Distance[] {
  const pooled = [...a, ...b];
  const rng = new Rng(seed, 1234);
  const out: Distance[] = [];
  for (let p = 0; p < permutations; p++) {
    const order = pooled.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    out.push(distance(order.slice(0, a.length).map((i) => pooled[i]), order.slice(a.length).map((i) => pooled[i]), shape, range, swd));
  }
  return out;
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

export async function main(argv: string[]): Promise<string> {
  const s = settingsFrom(argv);
  const loadStart = loadavg();
  const manifest = JSON.parse(await readFile(join(s.model, 'manifest.json'), 'utf8'));
  const pool = await createSamplerPool(s.model, { threads: s.threads, backend: s.backend });
  let report;
  try {
    const base = { count: s.count, batchSize: s.batch };
    // Reference and floor: two DDPM sets on independent noise; the fast samplers share a third seed.
    const reference = await sampleSet(pool, { ...base, sampler: 'ddpm', steps: s.referenceSteps, seed: s.seed }, `ddpm x ${s.referenceSteps} (reference)`);
    const second = await sampleSet(pool, { ...base, sampler: 'ddpm', steps: s.referenceSteps, seed: s.seed + 1 }, `ddpm x ${s.referenceSteps} (floor)`);
    const { shape, range } = reference;
    const floor = distance(second.images, reference.images, shape, range, s.swd);
    const nulls = nullDistances(reference.images, second.images, shape, range, s.permutations, s.swd, s.seed);
    const threshold = {
      swd: quantile(nulls.map((d) => d.swd), 0.95),
      crossMsSsim: [quantile(nulls.map((d) => d.crossMsSsim), 0.025), quantile(nulls.map((d) => d.crossMsSsim), 0.975)] as [number, number],
    };
    const within = (d: Distance) => ({ swd: d.swd <= threshold.swd, crossMsSsim: d.crossMsSsim >= threshold.crossMsSsim[0] && d.crossMsSsim <= threshold.crossMsSsim[1] });

    const curve = [];
    for (const sampler of s.samplers) {
      for (const steps of s.steps) {
        const set = await sampleSet(pool, { ...base, sampler: sampler.name, eta: sampler.eta, steps, seed: s.seed + 2 }, `${sampler.label} x ${steps}`);
        const d = distance(set.images, reference.images, shape, range, s.swd);
        const w = within(d);
        curve.push({ sampler: sampler.label, eta: sampler.eta, steps, swd: r3(d.swd), swdLevels: d.swdLevels.map(r3), crossMsSsim: r3(d.crossMsSsim), within: { ...w, both: w.swd && w.crossMsSsim }, seconds: r3(set.seconds) });
        console.log(`  SWD ${d.swd.toFixed(2)} (floor ${floor.swd.toFixed(2)}, threshold ${threshold.swd.toFixed(2)}), cross MS-SSIM ${d.crossMsSsim.toFixed(4)} (interval ${threshold.crossMsSsim.map((v) => v.toFixed(4)).join('..')})`);
      }
    }
    // Fewest steps first; at equal steps, the sampler listed first (curve order is --samplers order, a stable sort keeps it).
    const passing = curve.filter((c) => c.within.both).sort((a, b) => a.steps - b.steps)[0];
    const pick = passing ? { sampler: s.samplers.find((x) => x.label === passing.sampler)!.name, eta: passing.eta, steps: passing.steps } : null;
    if (s.writeManifest && pick) await writeSamplerSettings(s.model, pick);
    console.log(pick ? `pick: ${passing!.sampler} x ${pick.steps}${s.writeManifest ? ' (written to the manifest)' : ''}` : 'no sampler and step count within the floor');

    const cpu = cpus();
    report = {
      bench: 'steps',
      date: new Date().toISOString(),
      machine: { cpu: cpu[0]?.model, cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: { start: loadStart, end: loadavg() } },
      settings: {
        model: s.model.replace(ROOT, ''),
        modelName: manifest.name,
        count: s.count,
        referenceSteps: s.referenceSteps,
        steps: s.steps,
        samplers: s.samplers.map((x) => x.label),
        permutations: s.permutations,
        seeds: { reference: s.seed, floor: s.seed + 1, fastSamplers: s.seed + 2 },
        backend: pool.backend,
        threads: pool.size,
        batch: s.batch,
        swd: s.swd,
        crossMsSsimPairs: 256,
      },
      reference: { sampler: 'ddpm', steps: s.referenceSteps, seconds: r3(reference.seconds) },
      floor: {
        /** The second DDPM set against the reference. */
        swd: r3(floor.swd),
        swdLevels: floor.swdLevels.map(r3),
        crossMsSsim: r3(floor.crossMsSsim),
        /** From random halves of the two DDPM sets pooled: SWD 95th percentile, cross MS-SSIM central 95% interval. */
        threshold: { swd: r3(threshold.swd), crossMsSsim: threshold.crossMsSsim.map(r3) },
        permutations: nulls.map((d) => ({ swd: r3(d.swd), crossMsSsim: r3(d.crossMsSsim) })),
      },
      curve,
      pick,
      manifestWritten: s.writeManifest && pick !== null,
    };
  } finally {
    await pool.close();
  }
  const out = s.out ? resolve(s.out) : join(ROOT, 'bench/results', `steps-${report.date.replace(/[:.]/g, '').slice(0, 17)}Z.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
  return out;
}

/** Sets the manifest's default sampler, steps and eta (written to a temp file, then renamed over it). */
export async function writeSamplerSettings(dir: string, pick: { sampler: string; steps: number; eta: number }): Promise<void> {
  const file = join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(file, 'utf8'));
  const { eta: _old, ...rest } = manifest.sampler ?? {};
  manifest.sampler = { ...rest, name: pick.sampler, steps: pick.steps, ...(pick.eta ? { eta: pick.eta } : {}) };
  await writeFile(`${file}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
