// `medsynth evaluate`: how good, how diverse and how novel a checkpoint's
// samples are, measured against the real data it was trained and held out on.
//
// Per class (or for the whole model when it has no labels), in model space
// [-1, 1] (range 2), from `count` samples drawn with the checkpoint's sampler:
//   - held-out loss (DDPM) or bits per dimension (VDM), on every held-out example
//     (pixel-space models; a latent model's is in its latent training log);
//   - MS-SSIM among generated samples beside MS-SSIM among real held-out images
//     (diversity, as in Medical Diffusion: similar values mean similar variety);
//   - sliced Wasserstein distance over a Laplacian pyramid between generated
//     and held-out patches, beside the same distance between training and
//     held-out patches (what two real sets score);
//   - memorisation: nearest-neighbour distances from samples to training and
//     to held-out images, flagging samples closer to a training image than
//     real unseen images are;
//   - a classifier two-sample test (metrics/c2st.ts): the out-of-fold AUC of a
//     small CNN telling generated from held-out images, beside the AUC it
//     reaches with shuffled labels (chance);
//   - intensity statistics (metrics/intensity.ts): each image's dark level and
//     foreground fraction against the range real images take, and the
//     histogram distance to held-out beside train's;
//   - with a reference (the fp32 export of the same run): PSNR between its
//     samples and this checkpoint's for the same seed and a deterministic
//     sampler, and the size ratio.
import { labelData, type Manifest } from '../../shared/checkpoint/index.ts';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../../shared/config.ts';
import { SAMPLER_NAMES } from '../../shared/samplers/names.ts';
import type { GeneratedImage } from '../../sampler/encode/types.ts';
import { generate, type GenerateOptions } from '../../sampler/generate.ts';
import type { LoadedModel } from '../../sampler/load.ts';
import type { ExportMeta } from '../export.ts';
import { fromRealUnits } from '../preprocess/window.ts';
import { heldOutLine, Trainer, type ExampleSet, type HeldOutLoss } from '../trainer.ts';
import { LATENT_VDM_KIND } from '../../shared/models/latent-vdm.ts';
import { encodeGridPng } from './grid.ts';
import { memorisation, type MemorisationReport } from './metrics/memorisation.ts';
import { meanPairwiseMsSsim } from './metrics/ms-ssim.ts';
import { psnr } from './metrics/psnr.ts';
import { c2st, type C2stReport } from './metrics/c2st.ts';
import { intensityReport, type IntensityReport } from './metrics/intensity.ts';
import { slicedWasserstein, slicesOf } from './metrics/swd.ts';

export const EvaluateOptionsSchema = z.object({
  /** Samples per class (per model when it has no labels). */
  count: z.number().int().min(2).max(1024).default(16),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  steps: z.number().int().min(1).max(100_000).optional(),
  sampler: z.enum(SAMPLER_NAMES).optional(),
  /** Images per network call. */
  batchSize: z.number().int().min(1).max(256).default(8),
  /** Samples per class compared against the reference checkpoint. */
  referenceCount: z.number().int().min(1).max(64).default(4),
  /** Images per class and kind shown in the grid. */
  gridColumns: z.number().int().min(1).max(32).default(8),
});
export type EvaluateOptions = z.input<typeof EvaluateOptionsSchema>;

const RANGE = 2; // model space [-1, 1]
/** The two-sample test's settings here: 5 shuffled-label runs keep it to tens of seconds a class on 2 cores. */
const C2ST = { folds: 4, steps: 60, permutations: 5 } as const;

export interface ClassReport {
  label: string | null;
  train: number;
  heldOut: number;
  generated: number;
  msSsim: { generated: number; heldOut: number | null };
  swd: { generatedVsHeldOut: number; trainVsHeldOut: number } | null;
  memorisation: MemorisationReport | null;
  intensity: IntensityReport | null;
  /**
   * Classifier two-sample test of generated against held-out 2D images (volumes: their axial slices),
   * and the AUC the same test gives for as many training images against held-out (what real data scores:
   * near 0.5 only when the held-out images are like the training ones).
   */
  c2st: { generatedVsHeldOut: C2stReport; trainVsHeldOut: number } | null;
}

export interface EvaluationReport {
  /** `shards` ties the report to the exact weights it measured (a retrained model of the same architecture has the same bytes). */
  model: { name: string; kind: string; quantization: string; bytes: number; shards: { file: string; sha256: string }[]; training: Record<string, unknown> | null };
  sampling: { sampler: string; steps: number; seed: number; count: number; backend: string; seconds: number };
  validation: ({ examples: number } & HeldOutLoss) | null;
  classes: ClassReport[];
  quantization: { reference: string; sampler: string; psnr: number; minPsnr: number; sizeRatio: number } | null;
}

const bytesOf = (m: Manifest) => m.shards.reduce((n, s) => n + s.bytes, 0);

/** Examples of `set` grouped by class index (one group, index -1, for an unlabelled set). */
function byClass(set: ExampleSet | undefined, classes: number): Float32Array[][] {
  const groups: Float32Array[][] = Array.from({ length: Math.max(1, classes) }, () => []);
  for (let i = 0; i < (set?.size ?? 0); i++) {
    const e = set!.get(i);
    groups[classes ? e.label! : 0].push(e.x);
  }
  return groups;
}

/** 2D slices [H, W] of examples (volumes give their axial slices) for the patch statistics. */
function planes(images: Float32Array[], spatial: number[]): { images: Float32Array[]; shape: [number, number] } {
  if (spatial.length === 2) return { images, shape: spatial as [number, number] };
  return { images: images.flatMap((v) => slicesOf(v, spatial as [number, number, number], 0)), shape: [spatial[1], spatial[2]] };
}

/** `n` of `items` at evenly spaced positions (all of them when there are fewer). */
function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

/** The spec Trainer.evaluateWeights needs, from a checkpoint's manifest. */
function specOf(m: Manifest) {
  return { kind: m.kind, model: m.model, meta: m as unknown as ExportMeta };
}

export async function evaluateCheckpoint(
  model: LoadedModel,
  data: { train: ExampleSet; validation?: ExampleSet },
  options: EvaluateOptions = {},
  hooks: { reference?: { model: LoadedModel; location: string }; log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<{ report: EvaluationReport; grid: Uint8Array }> {
  const o = parseConfig(EvaluateOptionsSchema, options, '');
  const log = hooks.log ?? (() => {});
  const m = model.manifest;
  const spatial = m.data.shape;
  const labels = m.labels ?? [];
  const classes = Math.max(1, labels.length);
  const training = (m.training ?? null) as Record<string, unknown> | null;

  let validation: EvaluationReport['validation'] = null;
  // A latent DDPM's denoiser sees the VQ-GAN's latents, not volumes (its checkpoint has no encoder): its held-out
  // loss is in the latent run's log. A latent VDM's bound starts from the images (its encoder ships with it).
  if (data.validation && (!model.model.decode || model.model.kind === LATENT_VDM_KIND)) {
    const config = (training?.config ?? {}) as { batchSize?: number };
    const batches = Math.ceil(data.validation.size / (config.batchSize ?? 8));
    validation = { examples: data.validation.size, ...Trainer.evaluateWeights(specOf(m), model.params, config, data.validation, batches) };
    log(`held-out loss ${heldOutLine(validation)} over ${data.validation.size} examples`);
  }

  const train = byClass(data.train, labels.length);
  const held = byClass(data.validation, labels.length);
  const sample = (target: LoadedModel, c: number, extra: GenerateOptions) =>
    generate(target, { seed: o.seed, batchSize: o.batchSize, steps: o.steps, sampler: o.sampler, ...(labels.length ? { label: c } : {}), ...extra }, { signal: hooks.signal });
  const toModel = (images: GeneratedImage[], c: number) => images.map((g) => fromRealUnits(g.data, labelData(m, labels.length ? c : undefined).intensity));
  const toImage = (x: Float32Array, c: number): GeneratedImage => {
    const d = labelData(m, labels.length ? c : undefined);
    return { data: x, shape: [...spatial, 1], spacing: d.spacing, modality: d.modality, unit: '', range: [-1, 1] }; // shown in model space
  };

  const classReports: ClassReport[] = [];
  const gridRows: GeneratedImage[][] = [];
  let sampling: EvaluationReport['sampling'] | undefined;
  const started = performance.now();
  for (let c = 0; c < classes; c++) {
    const name = labels.length ? labels[c] : null;
    const result = await sample(model, c, { count: o.count });
    sampling ??= { sampler: result.sampler, steps: result.steps, seed: o.seed, count: o.count, backend: result.backend, seconds: 0 };
    const generated = toModel(result.images, c);
    const real = held[c];
    // The patch and classifier statistics run on 2D images: a volume's axial slices.
    const [realP, generatedP, trainP] = [real, generated, train[c]].map((xs) => planes(xs, spatial));
    const swd =
      real.length && train[c].length
        ? {
            generatedVsHeldOut: slicedWasserstein(generatedP.images, realP.images, realP.shape, { seed: o.seed }).mean,
            trainVsHeldOut: slicedWasserstein(trainP.images, realP.images, realP.shape, { seed: o.seed }).mean,
          }
        : null;
    const report: ClassReport = {
      label: name,
      train: train[c].length,
      heldOut: real.length,
      generated: generated.length,
      msSsim: {
        generated: meanPairwiseMsSsim(generated, spatial, { range: RANGE, seed: o.seed }),
        heldOut: real.length >= 2 ? meanPairwiseMsSsim(real, spatial, { range: RANGE, seed: o.seed }) : null,
      },
      swd,
      memorisation: real.length && train[c].length ? memorisation(generated, train[c], real) : null,
      intensity: real.length && train[c].length ? intensityReport(generated, train[c], real) : null,
      c2st:
        realP.images.length >= C2ST.folds && generatedP.images.length >= C2ST.folds
          ? {
              generatedVsHeldOut: c2st(realP.images, generatedP.images, realP.shape, { ...C2ST, seed: o.seed }),
              trainVsHeldOut: c2st(realP.images, evenlySpaced(trainP.images, generatedP.images.length), realP.shape, { ...C2ST, permutations: 0, seed: o.seed }).auc,
            }
          : null,
    };
    const it = report.intensity;
    classReports.push(report);
    log(
      `${name ?? 'samples'}: MS-SSIM generated ${report.msSsim.generated.toFixed(3)} / held-out ${report.msSsim.heldOut?.toFixed(3) ?? '-'}` +
        (swd ? `; SWD generated-vs-held-out ${swd.generatedVsHeldOut.toFixed(2)} / train-vs-held-out ${swd.trainVsHeldOut.toFixed(2)}` : '') +
        (report.memorisation ? `; ${report.memorisation.flagged.length} of ${generated.length} samples flagged as near-copies` : '') +
        (it
          ? `; dark level ${it.darkLevel.generated.median.toFixed(2)} (real ${it.darkLevel.real.median.toFixed(2)}), foreground ${it.foreground.generated.median.toFixed(2)} (real ${it.foreground.real.median.toFixed(2)}),` +
            ` outside the real range ${it.outsideRealRange.darkLevel} / ${it.outsideRealRange.foreground} of ${generated.length}, histogram W1 ${it.histogramDistance.generatedVsHeldOut.toFixed(3)} / train ${it.histogramDistance.trainVsHeldOut.toFixed(3)}`
          : '') +
        (report.c2st
          ? `; C2ST AUC ${report.c2st.generatedVsHeldOut.auc.toFixed(2)} (chance ${report.c2st.generatedVsHeldOut.chance!.mean.toFixed(2)}, 95% ${report.c2st.generatedVsHeldOut.chance!.p95.toFixed(2)}; train vs held-out ${report.c2st.trainVsHeldOut.toFixed(2)})`
          : ''),
    );
    gridRows.push(real.slice(0, o.gridColumns).map((x) => toImage(x, c)), generated.slice(0, o.gridColumns).map((x) => toImage(x, c)));
  }
  sampling!.seconds = (performance.now() - started) / 1000;

  let quantization: EvaluationReport['quantization'] = null;
  if (hooks.reference) quantization = await compareWithReference(model, hooks.reference, o, classes, labels.length > 0, toModel);

  const report: EvaluationReport = {
    model: { name: m.name, kind: m.kind, quantization: m.quantization, bytes: bytesOf(m), shards: m.shards.map(({ file, sha256 }) => ({ file, sha256 })), training },
    sampling: sampling!,
    validation,
    classes: classReports,
    quantization,
  };
  return { report, grid: encodeGridPng(gridRows.filter((r) => r.length)) };
}

/**
 * This checkpoint against a higher-precision export of the same network: the
 * same seeds through a deterministic sampler (the checkpoint's own when it is
 * deterministic, else DDIM with eta 0), PSNR in model space.
 */
async function compareWithReference(
  model: LoadedModel,
  reference: { model: LoadedModel; location: string },
  o: z.output<typeof EvaluateOptionsSchema>,
  classes: number,
  labelled: boolean,
  toModel: (images: GeneratedImage[], c: number) => Float32Array[],
): Promise<EvaluationReport['quantization']> {
  const a = model.manifest;
  const b = reference.model.manifest;
  if (a.kind !== b.kind || JSON.stringify(a.model) !== JSON.stringify(b.model) || a.data.shape.join() !== b.data.shape.join()) {
    throw new ConfigError(`--reference ${reference.location}`, `a different network (${b.kind} ${JSON.stringify(b.model)}) from the evaluated model's`);
  }
  const own = o.sampler ?? a.sampler.name;
  const deterministic = own === 'dpm-solver++' || (own === 'ddim' && (a.sampler.eta ?? 0) === 0);
  const sampler = deterministic ? own : 'ddim';
  const values: number[] = [];
  for (let c = 0; c < classes; c++) {
    const opts: GenerateOptions = { count: o.referenceCount, seed: o.seed, batchSize: o.batchSize, steps: o.steps, sampler, eta: 0, ...(labelled ? { label: c } : {}) };
    const x = toModel((await generate(model, opts)).images, c);
    const y = toModel((await generate(reference.model, opts)).images, c);
    x.forEach((xi, i) => values.push(psnr(xi, y[i], RANGE)));
  }
  const finite = values.map((v) => Math.min(v, 100)); // identical outputs (Infinity) count as 100 dB in the mean
  return {
    reference: reference.location,
    sampler,
    psnr: finite.reduce((s, v) => s + v, 0) / finite.length,
    minPsnr: Math.min(...values),
    sizeRatio: bytesOf(a) / bytesOf(b),
  };
}
