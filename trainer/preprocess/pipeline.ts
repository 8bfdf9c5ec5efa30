// The trainer's preprocessing pipeline (DESIGN §3.4): decoded volumes in real
// units -> training examples in model space [-1, 1] on the model's grid, plus
// the intensity mapping the checkpoint stores to write samples back in real
// units.
//
// Per volume, in order:
//   1. resample (trilinear) to the target spacing, when one is given; without
//      one every volume must already share a spacing (else a PreprocessError
//      naming two files and their spacings: never silently mixed);
//   2. foreground mask (window.ts: HU > -500 for CT, robust threshold otherwise,
//      largest component, holes filled);
//   3. intensity to model space: Nyul (fitted on these volumes' foregrounds,
//      or a given mapping), a CT window, or min-max; clipped to [-1, 1];
//   4. crop or pad to the target shape, centred on the foreground's bounding
//      box; padding is -1, the bottom of every window (air/background);
//   5. 2D targets [H, W]: slices along `slices.axis` (default axial) with at
//      least `slices.minForeground` foreground (default 0.05).
// With `target.fit: 'contain'` (radiographs: separate 2D images whose anatomy
// fills the frame) steps 1, 4 and 5 are instead: each whole image is resized
// into the grid with its aspect ratio kept and the short side padded with -1
// (fit-image.ts); no image is cropped and none is dropped. The `percentile`
// intensity kind windows each image on its own percentiles (a robust
// per-image window: radiographs carry no physical units, and exposure varies).
// One pipeline takes one modality: volumes tagged with different modalities
// (CT with MRI) are an error, as is a CT window over non-CT data.
import { z } from 'zod';
import { parseConfig } from '../../shared/config.ts';
import type { IntensityMapping } from '../../shared/intensity.ts';
import type { Volume } from '../data/types.ts';
import { cacheKey, cached, type CacheOptions } from './cache.ts';
import type { Prepared } from './prepared.ts';
import { assertVolume, fmt, percentiles, PreprocessError, type Shape3 } from './common.ts';
import { DECILES, nyulLandmarks, nyulMapping, nyulPercentiles, nyulToModel, piecewiseLinear, standardScale, type NyulFit } from './nyul.ts';
import { containFit } from './fit-image.ts';
import { cropOrPadAt, cropStart, resample } from './resample.ts';
import { extractSlices, planeAxes, SLICE_AXES, sliceAxisIndex, type SliceAxis } from './slices.ts';
import { foregroundMask, fromRealUnits } from './window.ts';

const dim = z.number().int().min(1).max(4096);
const positive = z.number().finite().positive();
const percent = z.number().min(0).max(100);

const IntensitySchema = z.discriminatedUnion('kind', [
  // Nyul-Udupa standardisation (nyul.ts); the standard scale is learned from the training volumes.
  z.strictObject({
    kind: z.literal('nyul'),
    pLow: percent.default(1),
    pHigh: percent.default(99),
    landmarks: z.array(percent).max(60).default(DECILES),
    sMin: z.number().finite().default(0),
    sMax: z.number().finite().default(100),
    unit: z.string().max(32).default(''),
  }),
  // CT: a Hounsfield window (the preset brain window is level 40, width 400).
  z.strictObject({
    kind: z.literal('hu-window'),
    level: z.number().finite().default(40),
    width: positive.default(400),
  }),
  // Per image: its pLow-th and pHigh-th percentiles -> [-1, 1]; samples come back as display
  // grey levels 0..255 (the manifest's mapping is linear 0..255 with this window recorded).
  z.strictObject({
    kind: z.literal('percentile'),
    pLow: percent.default(0.5),
    pHigh: percent.default(99.5),
  }),
  // Min-max: fixed [low, high] (8-bit data: 0, 255), or fitted as the lowest
  // pLow-th and highest pHigh-th percentile over the training volumes.
  z.strictObject({
    kind: z.literal('linear'),
    low: z.number().finite().optional(),
    high: z.number().finite().optional(),
    pLow: percent.default(0),
    pHigh: percent.default(100),
    unit: z.string().max(32).default(''),
  }),
]);

export const PipelineConfigSchema = z
  .strictObject({
    /** The data's modality when the files do not say (NIfTI does not); must agree with the files that do. */
    modality: z.enum(['ct', 'mri', 'xray']).optional(),
    target: z.strictObject({
      /** [D, H, W] for 3D models, [H, W] for 2D models (slices). */
      shape: z.union([z.tuple([dim, dim, dim]), z.tuple([dim, dim])]),
      /** mm per voxel, same rank as shape (in-plane [rows, cols] for 2D). Absent: volumes must share a spacing. */
      spacing: z.array(positive).min(2).max(3).optional(),
      /** crop: volumes and slices are cropped or padded around the foreground; contain: whole 2D images resized to fit (see the top). */
      fit: z.enum(['crop', 'contain']).default('crop'),
    }),
    intensity: IntensitySchema,
    /** 2D targets only; default { axis: 'axial', minForeground: 0.05 }. */
    slices: z
      .strictObject({
        axis: z.enum(Object.keys(SLICE_AXES) as [SliceAxis, ...SliceAxis[]]).default('axial'),
        minForeground: z.number().min(0).max(1).default(0.05),
      })
      .optional(),
    /** Foreground mask settings (window.ts ForegroundOptions). */
    foreground: z
      .strictObject({
        huThreshold: z.number().finite().default(-500),
        fraction: z.number().min(0).max(1).default(0.1),
        largestComponent: z.boolean().default(true),
        fillHoles: z.boolean().default(true),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const { shape, spacing } = c.target;
    if (spacing && spacing.length !== shape.length) {
      ctx.addIssue({ code: 'custom', path: ['target', 'spacing'], message: `has ${spacing.length} values for a ${shape.length}D target shape` });
    }
    if (c.slices && shape.length !== 2) {
      ctx.addIssue({ code: 'custom', path: ['slices'], message: 'slices need a 2D target shape [H, W]' });
    }
    if (c.target.fit === 'contain') {
      if (shape.length !== 2) ctx.addIssue({ code: 'custom', path: ['target', 'fit'], message: 'contain fits whole 2D images: it needs a 2D target shape [H, W]' });
      if (spacing) ctx.addIssue({ code: 'custom', path: ['target', 'spacing'], message: 'contain decides the spacing from each image; leave spacing out' });
      if (c.slices) ctx.addIssue({ code: 'custom', path: ['slices'], message: 'contain takes each image whole: leave slices out' });
    } else if (c.intensity.kind === 'percentile') {
      ctx.addIssue({ code: 'custom', path: ['intensity', 'kind'], message: "percentile windows separate images: it needs target.fit 'contain'" });
    }
    const i = c.intensity;
    if (i.kind === 'percentile' && !(i.pHigh > i.pLow)) ctx.addIssue({ code: 'custom', path: ['intensity', 'pHigh'], message: 'must be greater than pLow' });
    if (i.kind === 'nyul') {
      try {
        nyulPercentiles(i);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['intensity', 'landmarks'], message: (e as Error).message });
      }
      if (!(i.sMax > i.sMin)) ctx.addIssue({ code: 'custom', path: ['intensity', 'sMax'], message: 'must be greater than sMin' });
    }
    if (i.kind === 'linear') {
      if ((i.low === undefined) !== (i.high === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['intensity', i.low === undefined ? 'low' : 'high'], message: 'give both low and high, or neither (fitted)' });
      } else if (i.low !== undefined && !(i.high! > i.low)) {
        ctx.addIssue({ code: 'custom', path: ['intensity', 'high'], message: 'must be greater than low' });
      }
      if (!(i.pHigh > i.pLow)) ctx.addIssue({ code: 'custom', path: ['intensity', 'pHigh'], message: 'must be greater than pLow' });
    }
    if (i.kind === 'hu-window' && c.modality && c.modality !== 'ct') {
      ctx.addIssue({ code: 'custom', path: ['intensity', 'kind'], message: `a Hounsfield window needs CT data, not ${c.modality}` });
    }
  });
export type PipelineConfig = z.output<typeof PipelineConfigSchema>;
export type PipelineConfigInput = z.input<typeof PipelineConfigSchema>;

/** Validates and fills defaults; throws a ConfigError naming the field (`data.target.shape`, ...). */
export function parsePipelineConfig(raw: unknown, prefix = 'data'): PipelineConfig {
  return parseConfig(PipelineConfigSchema, raw, prefix);
}

export interface PrepareOptions {
  /** Apply this mapping (e.g. the training set's, from a checkpoint) instead of fitting one; its kind must match the config's. */
  mapping?: IntensityMapping;
}

const SPACING_RTOL = 1e-3; // spacings within 0.1% count as equal (DICOM rounds them in text)

function sameSpacing(a: number, b: number): boolean {
  return Math.abs(a - b) <= SPACING_RTOL * Math.max(a, b);
}

/** The one modality of `volumes` (and config), or undefined when nobody says; throws on a mix. */
function commonModality(volumes: readonly Volume[], config: PipelineConfig): string | undefined {
  const first = new Map<string, string>(); // modality -> first file with it
  for (const v of volumes) if (v.modality && !first.has(v.modality)) first.set(v.modality, v.source);
  if (first.size > 1) {
    const list = [...first].map(([m, src]) => `${src} is ${m}`).join(', ');
    throw new PreprocessError([...first.values()], `mixed modalities (${list}); one pipeline takes one modality`);
  }
  const [found] = first.keys();
  if (config.modality && found && found !== config.modality) {
    throw new PreprocessError([first.get(found)!], `modality ${found} does not match the configured modality ${config.modality}`);
  }
  const modality = config.modality ?? found ?? (config.intensity.kind === 'hu-window' ? 'ct' : undefined);
  if (config.intensity.kind === 'hu-window' && modality !== 'ct') {
    throw new PreprocessError([first.get(found!) ?? ''].filter(Boolean), `a Hounsfield window needs CT data, not ${modality}`);
  }
  return modality;
}

/** Turns decoded volumes into model-space examples on the target grid (see the top of this file). */
export function preparePipeline(volumes: readonly Volume[], rawConfig: PipelineConfigInput | PipelineConfig, opts: PrepareOptions = {}): Prepared {
  const config = parsePipelineConfig(rawConfig);
  if (volumes.length === 0) throw new PreprocessError([], 'no volumes to prepare');
  for (const v of volumes) {
    assertVolume(v);
    let bad = 0;
    for (let i = 0; i < v.data.length; i++) if (!Number.isFinite(v.data[i])) bad++;
    if (bad) throw new PreprocessError([v.source], `${bad} voxels are not finite numbers`);
  }
  const modality = commonModality(volumes, config);
  const contain = config.target.fit === 'contain';
  if (opts.mapping && opts.mapping.kind !== mappingKind(config.intensity.kind)) {
    throw new Error(`the given ${opts.mapping.kind} mapping does not fit intensity.kind ${config.intensity.kind}`);
  }
  const report: string[] = [];
  const is2D = config.target.shape.length === 2;
  const slices = is2D ? (config.slices ?? { axis: 'axial' as const, minForeground: 0.05 }) : undefined;
  const axis = slices ? sliceAxisIndex(slices.axis) : 0;
  // The axes whose spacing matters: all three, or a slice's two in-plane axes.
  const axes = is2D ? planeAxes(axis) : [0, 1, 2];

  // The target shape as [D, H, W]; for 2D the slicing axis keeps each volume's own size.
  const grid3 = (n: Shape3): Shape3 => {
    if (!is2D) return [...(config.target.shape as Shape3)];
    const out: Shape3 = [...n];
    axes.forEach((a, k) => (out[a] = config.target.shape[k]));
    return out;
  };

  // 1. One spacing for all.
  let spacing: number[];
  let grid: Volume[];
  if (contain) {
    spacing = []; // decided by each image's fit (step 4)
    grid = [...volumes];
  } else if (config.target.spacing) {
    const target = config.target.spacing;
    spacing = [...target];
    grid = volumes.map((v) => {
      const s: Shape3 = [...v.spacing];
      axes.forEach((a, k) => (s[a] = target[k]));
      if (s.every((x, a) => x === v.spacing[a])) return v;
      const r = resample(v, { spacing: s });
      report.push(`${v.source}: resampled ${fmt(v.shape)} at ${fmt(v.spacing)} mm -> ${fmt(r.shape)} at ${fmt(r.spacing)} mm (trilinear)`);
      return r;
    });
  } else {
    const ref = volumes[0];
    for (const v of volumes) {
      if (!axes.every((a) => sameSpacing(v.spacing[a], ref.spacing[a]))) {
        throw new PreprocessError(
          [ref.source, v.source],
          `mixed voxel spacing: ${ref.source} has ${fmt(ref.spacing)} mm but ${v.source} has ${fmt(v.spacing)} mm; ` +
            'set target.spacing to resample them to one grid',
        );
      }
    }
    spacing = axes.map((a) => ref.spacing[a]);
    grid = [...volumes];
  }
  for (const v of grid) {
    if (!is2D && v.shape[0] === 1 && config.target.shape[0] > 1) {
      throw new PreprocessError([v.source], `a 2D image ${fmt(v.shape)} cannot fill a 3D target ${fmt(config.target.shape)}; use a 2D target [H, W]`);
    }
  }

  // 2. Foreground masks.
  const fg = { ...config.foreground, modality };
  const masks = grid.map((v) => foregroundMask(v, fg));
  masks.forEach((m, j) => {
    let n = 0;
    for (let i = 0; i < m.length; i++) n += m[i];
    report.push(`${grid[j].source}: foreground ${((100 * n) / m.length).toFixed(1)}% of ${m.length} voxels`);
  });

  // 3. Intensity -> model space.
  let mapping: IntensityMapping;
  let toModel: (v: Volume, j: number) => Float32Array;
  const c = config.intensity;
  if (c.kind === 'nyul') {
    const given = opts.mapping?.kind === 'nyul' ? opts.mapping : undefined;
    const ps = given ? given.percentiles : nyulPercentiles(c);
    // Each volume's landmarks once (a sort of its foreground): for the fit and for its own transform.
    const landmarks = grid.map((v, j) => nyulLandmarks(v, ps, masks[j]));
    const fit: NyulFit = given ? { percentiles: ps, scale: given.scale } : { percentiles: ps, scale: standardScale(landmarks, c.sMin, c.sMax) };
    mapping = nyulMapping(fit, given ? given.unit : c.unit);
    toModel = (v, j) => nyulToModel(piecewiseLinear(v.data, landmarks[j], fit.scale), fit);
    report.push(`nyul: percentiles ${fmt(fit.percentiles)} -> standard scale ${fmt(fit.scale)}${opts.mapping ? ' (given)' : ' (fitted)'}`);
  } else if (c.kind === 'hu-window') {
    mapping = opts.mapping ?? { kind: 'hu-window', level: c.level, width: c.width };
    toModel = (v) => fromRealUnits(v.data, mapping);
    report.push(`hu-window: level ${(mapping as { level: number }).level}, width ${(mapping as { width: number }).width} HU`);
  } else if (c.kind === 'percentile') {
    mapping = opts.mapping ?? { kind: 'linear', low: 0, high: 255, unit: '', window: { pLow: c.pLow, pHigh: c.pHigh } };
    toModel = (v) => {
      const [lo, hi] = percentiles(v.data, [c.pLow, c.pHigh]);
      if (!(hi > lo)) throw new PreprocessError([v.source], `percentile window: the image is constant between percentiles ${c.pLow} and ${c.pHigh} (${lo}); nothing to window`);
      return fromRealUnits(v.data, { kind: 'linear', low: lo, high: hi, unit: '' });
    };
    report.push(`percentile: each image's percentiles ${c.pLow}..${c.pHigh} -> [-1, 1]; samples in display grey levels 0..255`);
  } else {
    if (opts.mapping) mapping = opts.mapping;
    else if (c.low !== undefined && c.high !== undefined) mapping = { kind: 'linear', low: c.low, high: c.high, unit: c.unit };
    else {
      let low = Infinity;
      let high = -Infinity;
      for (const v of grid) {
        const [lo, hi] = percentiles(v.data, [c.pLow, c.pHigh]);
        low = Math.min(low, lo);
        high = Math.max(high, hi);
      }
      if (!(high > low)) throw new PreprocessError(grid.map((v) => v.source), `linear: the data is constant (${low}); nothing to scale`);
      mapping = { kind: 'linear', low, high, unit: c.unit };
    }
    toModel = (v) => fromRealUnits(v.data, mapping);
    const m = mapping as { low: number; high: number };
    report.push(`linear: [${m.low}, ${m.high}] -> [-1, 1]${opts.mapping || c.low !== undefined ? '' : ` (fitted: percentiles ${c.pLow}..${c.pHigh})`}`);
  }

  // 4-5. Crop or pad (and slice), or fit whole images.
  const examples: Float32Array[] = [];
  const sources: string[] = [];
  if (contain) {
    const shape = config.target.shape as [number, number];
    const spacings: [number, number][] = [];
    grid.forEach((v, j) => {
      const fit = containFit({ ...v, data: toModel(v, j) }, shape, -1);
      examples.push(fit.data);
      sources.push(v.source);
      spacings.push(fit.spacing);
      report.push(`${v.source}: ${fmt(v.shape.slice(1))} resized to ${fmt(fit.size)} (area average) at offset ${fmt(fit.offset)} of ${fmt(shape)}`);
    });
    // One spacing for the manifest: the median image's (radiographs rarely say theirs; PNG defaults to 1 mm).
    const median = (k: 0 | 1) => spacings.map((s) => s[k]).sort((a, b) => a - b)[spacings.length >> 1];
    spacing = [median(0), median(1)];
    return { examples, sources, mapping, shape: [...shape], spacing, ...(modality ? { modality } : {}), fit: 'contain', report };
  }
  grid.forEach((v, j) => {
    const model = toModel(v, j);
    const target = grid3(v.shape);
    const start = cropStart(v.shape, target, masks[j]);
    const data = cropOrPadAt(model, v.shape, target, start, -1);
    if (!is2D) {
      examples.push(data);
      sources.push(v.source);
      if (target.some((n, a) => n !== v.shape[a])) report.push(`${v.source}: ${fmt(v.shape)} cropped/padded to ${fmt(target)} at offset ${fmt(start)}`);
      return;
    }
    const mask = cropOrPadAt(masks[j], v.shape, target, start, 0);
    const r = extractSlices({ ...v, data, shape: target }, { axis: slices!.axis, minForeground: slices!.minForeground, mask });
    for (const s of r.slices) {
      examples.push(s.data);
      sources.push(s.source);
    }
    report.push(
      `${v.source}: ${r.slices.length} of ${target[axis]} ${slices!.axis} slices kept` +
        (r.skipped.length ? ` (${r.skipped.length} below ${slices!.minForeground * 100}% foreground)` : '') +
        (target.some((n, a) => n !== v.shape[a]) ? `, in-plane cropped/padded ${fmt(v.shape)} -> ${fmt(target)}` : ''),
    );
  });
  if (examples.length === 0) throw new PreprocessError(grid.map((v) => v.source), 'no examples: every slice was below the foreground threshold');
  return { examples, sources, mapping, shape: [...config.target.shape], spacing, ...(modality ? { modality } : {}), report };
}

/** The manifest mapping kind an intensity config produces. */
function mappingKind(kind: PipelineConfig['intensity']['kind']): IntensityMapping['kind'] {
  return kind === 'percentile' ? 'linear' : kind;
}

/**
 * preparePipeline through the disk cache: `inputs` (the files or folders the
 * volumes come from) and the config key the entry, so a repeated run with
 * unchanged files neither decodes (`load` is not called) nor preprocesses.
 */
export async function prepareCached(
  inputs: readonly string[],
  load: () => Promise<readonly Volume[]>,
  rawConfig: PipelineConfigInput | PipelineConfig,
  opts: PrepareOptions & CacheOptions = {},
): Promise<Prepared> {
  const config = parsePipelineConfig(rawConfig);
  const key = await cacheKey(inputs, { config, mapping: opts.mapping ?? null });
  return cached(key, async () => preparePipeline(await load(), config, opts), opts);
}
