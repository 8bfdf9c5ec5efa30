// From `--data` paths to the trainer's example sets: read (trainer/data),
// preprocess through the disk cache (trainer/preprocess), hold out data for
// validation, attach class labels.
//
// `--data` entries are paths, or `label=path` for class-conditional training
// (all labelled or none). Held-out data is never a training slice:
//   - a label with several volumes holds out its last volume (by path);
//   - a label with one volume, for 2D targets, holds out 15% of its slices
//     in three slabs spread over the volume (`heldOut: 'slabs'`, so held-out
//     slices cover every level of the head, not just its crown), each with a
//     gap of 2 slices on both sides (neighbours are nearly copies); runs and
//     checkpoints from before it hold out the last 15% (`'tail'`), as do
//     volumes of fewer than SLAB_MIN_SLICES slices;
//   - a single 3D volume cannot be split: no validation, and the log says so;
//   - whole 2D images (radiographs, `target.fit: 'contain'`) are split by
//     patient where a metadata table beside them gives patient ids
//     (data/patients.ts), else by image: an image is held out when a hash of
//     its patient id (or file name) falls in the held-out 15%, so the split
//     is the same on every machine and an added image does not move the
//     others; the log says which.
// The intensity mapping is fitted on the training volumes only and applied
// to the held-out ones (with a one-volume slab split, the Nyul landmarks see
// the whole volume: said in the log). Each class gets its own preprocessing
// (`dataByLabel` merged over `data`) and its own fitted mapping, recorded in
// the manifest's `data.perLabel`, so one model can hold CT in HU beside MRI.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { labelData, type LabelData, type Manifest } from '../shared/checkpoint/index.ts';
import type { IntensityMapping } from '../shared/intensity.ts';
import { ConfigError } from '../shared/config.ts';
import { readDataset, type OnBadFile } from './data/index.ts';
import { patientsOf } from './data/patients.ts';
import { errorText, ReadError } from './data/types.ts';
import type { ExportMeta } from './export.ts';
import { prepareCached, type PipelineConfigInput } from './preprocess/pipeline.ts';
import type { Prepared } from './preprocess/prepared.ts';
import { getPreset } from './presets.ts';
import { deepMerge, trainSpec, type RunConfig } from './run-config.ts';
import type { ExampleSet } from './trainer.ts';

export interface TrainingData {
  train: ExampleSet;
  validation?: ExampleSet;
  /** Model config fields the data decides (numClasses). */
  model: Record<string, unknown>;
  /** Manifest fields the data decides (labels, modality, data layout and intensity mapping). */
  meta: Partial<ExportMeta>;
}

/** Splits `label=path` entries; a path containing '=' can be given as `./a=b`. */
export function parseDataEntries(entries: readonly string[]): { label?: string; path: string }[] {
  const parsed = entries.map((e) => {
    const m = /^([A-Za-z0-9_][A-Za-z0-9_ .-]{0,63})=(.+)$/.exec(e);
    return m && !e.startsWith('.') && !e.startsWith('/') ? { label: m[1], path: m[2] } : { path: e };
  });
  const labelled = parsed.filter((p) => p.label !== undefined).length;
  if (labelled > 0 && labelled < parsed.length) throw new ConfigError('--data', 'label every entry (label=path) or none');
  return parsed;
}

const HOLDOUT_FRACTION = 0.15;
const SLICE_GAP = 2;
const SLABS = 3;
/** Below this many slices three slabs and their gaps would take most of the volume: the tail is held out instead. */
export const SLAB_MIN_SLICES = 40;

/** How a one-volume class's slices are held out (RunConfig.heldOut, manifest data.heldOut). */
export type HeldOutSlices = 'tail' | 'slabs';

/**
 * The held-out and training slice indices of one volume of n slices (n >= 8):
 * 'tail' holds out the last 15%; 'slabs' (n >= SLAB_MIN_SLICES) three slabs of
 * 5% each, centred at 1/6, 1/2 and 5/6 of the volume. Training slices keep
 * SLICE_GAP slices away from every held-out one.
 */
export function sliceSplit(n: number, kind: HeldOutSlices): { train: number[]; heldOut: number[]; kind: HeldOutSlices } {
  const slabs = kind === 'slabs' && n >= SLAB_MIN_SLICES;
  const held = Math.max(1, Math.round((n * HOLDOUT_FRACTION) / (slabs ? SLABS : 1)));
  const starts = slabs ? Array.from({ length: SLABS }, (_, k) => Math.floor(((2 * k + 1) * n) / (2 * SLABS)) - Math.floor(held / 2)) : [n - held];
  const heldOut = starts.flatMap((s) => Array.from({ length: held }, (_, i) => s + i));
  const near = (i: number) => starts.some((s) => i >= s - SLICE_GAP && i < s + held + SLICE_GAP);
  return { train: Array.from({ length: n }, (_, i) => i).filter((i) => !near(i)), heldOut, kind: slabs ? 'slabs' : 'tail' };
}

/** FNV-1a of `key` -> held out when in the lowest HOLDOUT_FRACTION of 2^32. */
export function heldOutByKey(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h < HOLDOUT_FRACTION * 2 ** 32;
}

/** An image held out by a hash of its file's base name (the split when no patient ids are known). */
export function heldOutByName(source: string): boolean {
  return heldOutByKey(basename(source));
}

function exampleSet(shape: number[], items: { x: Float32Array; label?: number }[]): ExampleSet {
  return { shape: [...shape, 1], size: items.length, get: (i) => items[i] };
}

/** How each class (or the one unlabelled group) is preprocessed. */
interface SplitPlan {
  pipelineOf: (label?: string) => PipelineConfigInput;
  /** A fixed intensity mapping (a checkpoint's) instead of fitting one on the training volumes. */
  mappingOf?: (label?: number) => IntensityMapping | undefined;
  /** The manifest modality when the data does not say. */
  modality: LabelData['modality'];
  heldOut: HeldOutSlices;
}

/** Reads, preprocesses (through the cache) and splits `--data` entries into training and held-out examples. */
async function splitData(entries: readonly string[], plan: SplitPlan, opts: { onBadFile: OnBadFile; log: (line: string) => void }): Promise<TrainingData> {
  const parsed = parseDataEntries(entries);
  // Checked first: the cache key stats every input.
  for (const { path } of parsed) {
    await stat(path).catch((e: unknown) => {
      throw new ReadError(path, `no such file or folder (${errorText(e)})`);
    });
  }
  const labels = [...new Set(parsed.map((p) => p.label).filter((l): l is string => l !== undefined))];
  const groups = labels.length ? labels.map((l) => parsed.filter((p) => p.label === l).map((p) => p.path)) : [parsed.map((p) => p.path)];

  const train: { x: Float32Array; label?: number }[] = [];
  const validation: { x: Float32Array; label?: number }[] = [];
  const perLabel: LabelData[] = [];
  let first: Prepared | undefined;
  for (const [g, paths] of groups.entries()) {
    const label = labels.length ? g : undefined;
    const name = labels.length ? `label "${labels[g]}"` : 'the data';
    // Decoding happens inside prepareCached only on a cache miss.
    const read = (files: string[]) => async () => {
      const ds = await readDataset(files, { onBadFile: opts.onBadFile, log: opts.log }); // logs its summary
      if (ds.volumes.length === 0) throw new ConfigError('--data', `no readable volumes for ${name} in ${files.join(', ')}`);
      return ds.volumes;
    };
    const cacheLog = { onStatus: (status: string) => opts.log(`preprocessing cache for ${name}: ${status}`) };
    // Several entries: hold out the last one (a file or series folder, so whole volumes).
    const holdOut = paths.length > 1 ? paths[paths.length - 1] : undefined;
    const trainPaths = holdOut ? paths.slice(0, -1) : paths;
    const pipeline = plan.pipelineOf(label === undefined ? undefined : labels[label]);
    const given = plan.mappingOf?.(label);
    const prepared = await prepareCached(trainPaths, read(trainPaths), pipeline, { ...cacheLog, ...(given ? { mapping: given } : {}) });
    first ??= prepared;
    perLabel.push({ modality: (prepared.modality as LabelData['modality'] | undefined) ?? plan.modality, spacing: prepared.spacing, intensity: prepared.mapping });
    if (prepared.shape.join() !== first.shape.join()) throw new ConfigError('--data', `${name} prepares to [${prepared.shape}], the first label to [${first.shape}]`);
    let trainExamples = prepared.examples;
    if (holdOut) {
      const held = await prepareCached([holdOut], read([holdOut]), pipeline, { ...cacheLog, mapping: prepared.mapping });
      validation.push(...held.examples.map((x) => ({ x, label })));
      opts.log(`${name}: ${prepared.examples.length} training examples, ${held.examples.length} held out from ${holdOut}`);
    } else if (prepared.fit === 'contain') {
      const patients = await patientsOf(prepared.sources);
      const isHeld = patients ? patients.ids.map(heldOutByKey) : prepared.sources.map((src) => heldOutByName(src));
      trainExamples = prepared.examples.filter((_, i) => !isHeld[i]);
      validation.push(...prepared.examples.filter((_, i) => isHeld[i]).map((x) => ({ x, label })));
      const held = prepared.examples.length - trainExamples.length;
      const how = patients
        ? `by patient (hash of ${patients.column} in ${patients.table}: ${new Set(patients.ids).size} patients, none on both sides)`
        : 'by file name hash (split by image: no patient ids beside the images, one image per patient assumed)';
      opts.log(`${name}: ${trainExamples.length} training images, ${held} held out ${how}`);
    } else if (prepared.shape.length === 2 && prepared.examples.length >= 8) {
      const split = sliceSplit(prepared.examples.length, plan.heldOut);
      trainExamples = split.train.map((i) => prepared.examples[i]);
      validation.push(...split.heldOut.map((i) => ({ x: prepared.examples[i], label })));
      const fitted = !given && prepared.mapping.kind !== 'hu-window';
      const where = split.kind === 'slabs' ? `in ${SLABS} slabs from slices ${split.heldOut.filter((_, i) => i % (split.heldOut.length / SLABS) === 0).join(', ')}` : 'from the end of the volume';
      opts.log(`${name}: one volume: ${trainExamples.length} training slices, ${split.heldOut.length} held out ${where}, with gaps of ${SLICE_GAP}${fitted ? ' (its intensity mapping was fitted on the whole volume)' : ''}`);
    } else {
      opts.log(`${name}: one volume and too few slices to hold any out: no validation`);
    }
    train.push(...trainExamples.map((x) => ({ x, label })));
    for (const line of prepared.report) opts.log(line);
  }
  const p = first!;
  return {
    train: exampleSet(p.shape, train),
    validation: validation.length ? exampleSet(p.shape, validation) : undefined,
    model: labels.length ? { numClasses: labels.length } : {},
    meta: {
      ...(labels.length ? { labels } : {}),
      ...(p.modality ? { modality: p.modality as ExportMeta['modality'] } : {}),
      data: { shape: p.shape, channels: 1, spacing: p.spacing, intensity: p.mapping, ...(p.fit ? { fit: p.fit } : {}), heldOut: plan.heldOut, ...(labels.length ? { perLabel } : {}) },
    },
  };
}

/** A run's training and held-out examples; each class fits its own intensity mapping. */
export async function prepareTrainingData(
  entries: readonly string[],
  config: RunConfig,
  opts: { onBadFile: OnBadFile; log: (line: string) => void },
): Promise<TrainingData> {
  // `target` merges field by field (a recipe's grid keeps the preset's fit); other fields replace the preset's.
  const base = defaultPipeline(config.preset);
  const own = config.data as Partial<PipelineConfigInput>;
  const pipeline = { ...base, ...own, target: { ...base.target, ...own.target } } as PipelineConfigInput;
  const labels = new Set(parseDataEntries(entries).map((p) => p.label));
  for (const l of Object.keys(config.dataByLabel)) {
    if (!labels.has(l)) throw new ConfigError(`config.dataByLabel.${l}`, `no --data entry has label "${l}" (labels: ${[...labels].filter(Boolean).join(', ') || 'none'})`);
  }
  const pipelineOf = (label?: string): PipelineConfigInput =>
    label !== undefined && Object.hasOwn(config.dataByLabel, label) ? (deepMerge(pipeline as Record<string, unknown>, config.dataByLabel[label]) as PipelineConfigInput) : pipeline;
  return splitData(entries, { pipelineOf, modality: trainSpec(config).meta.modality, heldOut: config.heldOut }, opts);
}

/**
 * The same split of the same `--data` entries as training made, preprocessed
 * onto a checkpoint's grid with its stored intensity mappings (so a checkpoint
 * alone, without its run config, reproduces its held-out set).
 */
export async function prepareEvaluationData(
  entries: readonly string[],
  manifest: Manifest,
  opts: { onBadFile: OnBadFile; log: (line: string) => void },
): Promise<{ train: ExampleSet; validation?: ExampleSet }> {
  const wanted = manifest.labels ?? [];
  const given = [...new Set(parseDataEntries(entries).map((p) => p.label).filter((l): l is string => l !== undefined))];
  if (given.join('\0') !== wanted.join('\0')) {
    throw new ConfigError('--data', wanted.length ? `label the entries with the model's labels in order (${wanted.join(', ')}), as in training; got ${given.join(', ') || 'none'}` : `model "${manifest.name}" is not class-conditional: give plain paths`);
  }
  const shape = manifest.data.shape;
  const pipelineOf = (label?: string): PipelineConfigInput => {
    const d = labelData(manifest, label === undefined ? undefined : wanted.indexOf(label));
    const i = d.intensity;
    const contain = manifest.data.fit === 'contain';
    return {
      modality: d.modality,
      target: contain ? { shape: shape as [number, number], fit: 'contain' } : { shape: shape as [number, number], spacing: d.spacing },
      intensity:
        i.kind === 'nyul' ? { kind: 'nyul' }
        : i.kind === 'hu-window' ? { kind: i.kind, level: i.level, width: i.width }
        : i.window ? { kind: 'percentile', ...i.window }
        : { kind: i.kind, low: i.low, high: i.high },
    } as PipelineConfigInput;
  };
  const mappingOf = (label?: number) => labelData(manifest, label).intensity;
  // A checkpoint from before the spread split says nothing: it held out the tail.
  const { train, validation } = await splitData(entries, { pipelineOf, mappingOf, modality: manifest.modality, heldOut: manifest.data.heldOut ?? 'tail' }, opts);
  return { train, validation };
}

/** The preprocessing a preset implies: its grid, and its intensity mapping's kind. */
function defaultPipeline(presetName: string): PipelineConfigInput {
  const preset = getPreset(presetName);
  const { shape, intensity } = preset.meta.data;
  const kind = intensity.kind;
  return {
    target: { shape: shape as [number, number] },
    intensity: kind === 'hu-window' ? { kind, level: intensity.level, width: intensity.width } : kind === 'linear' ? { kind, low: intensity.low, high: intensity.high } : { kind: 'nyul' },
    ...preset.data,
  } as PipelineConfigInput;
}
