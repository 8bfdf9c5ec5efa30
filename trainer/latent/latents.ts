// The latents folder that `medsynth encode` writes and latent DDPM training
// reads: the checkpoint container (manifest.json + sha256-verified msgpack
// shards, DESIGN §4) with a manifest of kind `latents`:
//
//   model        the VQ-GAN's network config that made them
//   modality, labels, data
//                the source volumes as a sampling checkpoint describes them
//                (shape, spacing, intensity mapping, perLabel), so the final
//                export writes samples back in real units
//   training.latents
//                { format, shape [d, h, w, E], scale { min, max }, counts,
//                  vqgan: { run, checkpoint (sha256 of its manifest.json), step } }
//   tensors      train.latents [N, d, h, w, E] (+ train.labels [N]),
//                validation.latents [M, d, h, w, E] (+ validation.labels [M])
//
// Latents are the quantised codebook vectors scaled to [-1, 1] by the
// codebook's min and max (Medical Diffusion); labels are stored as float32
// class indices (the container holds float tensors only).
import { z } from 'zod';
import { CheckpointError, encodeCheckpoint, loadCheckpoint, MANIFEST_FILE, sha256Hex, type CheckpointSource, type HostTensor, type Manifest } from '../../shared/checkpoint/index.ts';
import { formatIssue } from '../../shared/config.ts';
import type { LatentScale } from '../../shared/models/latent-ddpm.ts';
import { vqgan3d, type Vqgan3dConfig } from '../../shared/models/vqgan3d/index.ts';
import type { ExampleSet } from '../trainer.ts';

export const LATENTS_KIND = 'latents';
export const LATENTS_FORMAT = 'medsynth-latents';
/** Scaled latents lie in [-1, 1]; float32 rounding of the scaling may step over by a few ulps. */
const RANGE_TOLERANCE = 1e-5;

const count = z.number().int().min(0);
const positive = z.number().int().positive();
const LatentsRecordSchema = z.strictObject({
  format: z.literal(LATENTS_FORMAT),
  /** One example: [d, h, w, E]. */
  shape: z.tuple([positive, positive, positive, positive]),
  scale: z.strictObject({ min: z.number().finite(), max: z.number().finite() }).refine((s) => s.max > s.min, { path: ['max'], message: 'must be greater than min' }),
  train: positive,
  validation: count,
  vqgan: z.strictObject({
    /** The VQ-GAN run folder (absolute path). */
    run: z.string().min(1),
    /** sha256 of that run's checkpoint/manifest.json when it encoded these (which pins every weight by its shard hashes). */
    checkpoint: z.string().regex(/^[0-9a-f]{64}$/),
    step: count,
  }),
});
export type LatentsRecord = z.infer<typeof LatentsRecordSchema>;

/** What describes the source volumes, in a sampling checkpoint's words. */
export type SourceData = Pick<Manifest, 'modality' | 'labels' | 'data'>;

export interface LatentSplit {
  /** N examples of [d, h, w, E], scaled to [-1, 1], row-major. */
  latents: Float32Array;
  /** Class index per example (labelled data only). */
  labels?: readonly number[];
}

export interface LatentsInput {
  name: string;
  source: SourceData;
  vqgan: Vqgan3dConfig;
  record: Omit<LatentsRecord, 'format' | 'train' | 'validation'>;
  train: LatentSplit;
  validation?: LatentSplit;
}

export interface Latents {
  location: string;
  manifest: Manifest;
  record: LatentsRecord;
  vqgan: Vqgan3dConfig;
  scale: LatentScale;
  /** Examples of shape [d, h, w, E]. */
  train: ExampleSet;
  validation?: ExampleSet;
  /** sha256 of manifest.json: names these latents exactly (the manifest holds every shard's sha256). */
  hash: string;
}

const SPLITS = ['train', 'validation'] as const;

/** The files of a latents folder (write them with writeCheckpointFolder). */
export async function encodeLatents(input: LatentsInput): Promise<Map<string, Uint8Array>> {
  const per = input.record.shape.reduce((a, b) => a * b, 1);
  const tensors = new Map<string, HostTensor>();
  const sizes = { train: 0, validation: 0 };
  for (const split of SPLITS) {
    const s = input[split];
    if (!s || s.latents.length === 0) continue;
    if (s.latents.length % per !== 0) throw new Error(`latents: ${split} has ${s.latents.length} values, not a multiple of [${input.record.shape}]`);
    const n = s.latents.length / per;
    sizes[split] = n;
    tensors.set(`${split}.latents`, { shape: [n, ...input.record.shape], data: s.latents });
    if (input.source.labels?.length) {
      if (s.labels?.length !== n) throw new Error(`latents: ${split} needs ${n} labels, got ${s.labels?.length ?? 0}`);
      tensors.set(`${split}.labels`, { shape: [n], data: Float32Array.from(s.labels) });
    }
  }
  const record: LatentsRecord = { format: LATENTS_FORMAT, ...input.record, train: sizes.train, validation: sizes.validation };
  const meta = {
    name: input.name,
    kind: LATENTS_KIND,
    ...input.source,
    model: input.vqgan,
    schedule: {},
    sampler: { name: 'none', steps: 1 },
    training: { latents: record },
  };
  return (await encodeCheckpoint(tensors, meta, { quantization: 'fp32' })).files;
}

/** sha256 of a checkpoint's manifest.json: identifies it, weights included (the manifest lists every shard's sha256). */
export async function manifestHash(source: CheckpointSource): Promise<string> {
  return sha256Hex(await source.read(MANIFEST_FILE));
}

/** Reads and checks a latents folder; every problem is a CheckpointError naming the file. */
export async function loadLatents(source: CheckpointSource): Promise<Latents> {
  const hash = await manifestHash(source);
  const { manifest, tensors } = await loadCheckpoint(source);
  const file = `${source.location}/${MANIFEST_FILE}`;
  const fail = (reason: string): never => {
    throw new CheckpointError(file, reason);
  };
  if (manifest.kind !== LATENTS_KIND) fail(`not a latents folder (kind "${manifest.kind}"); make one with medsynth encode <vqgan run>`);
  const parsed = LatentsRecordSchema.safeParse((manifest.training as { latents?: unknown } | undefined)?.latents);
  if (!parsed.success) return fail(`invalid latents record: ${formatIssue('training.latents', parsed.error)}`);
  const record = parsed.data;
  let vqgan: Vqgan3dConfig;
  let grid: number[];
  try {
    const model = vqgan3d(manifest.model);
    vqgan = model.config;
    grid = model.latentShape(manifest.data.shape);
  } catch (e) {
    return fail(`the VQ-GAN config does not fit data.shape: ${(e as Error).message}`);
  }
  const want = [...grid, vqgan.embeddingDim];
  if (record.shape.join() !== want.join()) fail(`training.latents.shape [${record.shape}] is not the VQ-GAN's latent grid [${want}] for data.shape [${manifest.data.shape}]`);

  const classes = manifest.labels?.length ?? 0;
  const expected = SPLITS.flatMap((s) => (record[s] > 0 ? [`${s}.latents`, ...(classes ? [`${s}.labels`] : [])] : []));
  const extra = [...tensors.keys()].filter((k) => !expected.includes(k));
  if (extra.length) fail(`unexpected tensors: ${extra.join(', ')}`);
  const sets = SPLITS.map((split): ExampleSet | undefined => {
    const n = record[split];
    if (n === 0) return undefined;
    const x = tensors.get(`${split}.latents`);
    if (!x) return fail(`tensor ${split}.latents is missing`);
    if (x.shape.join() !== [n, ...record.shape].join()) fail(`tensor ${split}.latents is [${x.shape}], expected [${[n, ...record.shape]}]`);
    const bad = x.data.findIndex((v) => !(Math.abs(v) <= 1 + RANGE_TOLERANCE));
    if (bad >= 0) fail(`tensor ${split}.latents: value ${x.data[bad]} at index ${bad} is outside [-1, 1]`);
    const labels = classes ? tensors.get(`${split}.labels`) : undefined;
    if (classes) {
      if (!labels || labels.shape.join() !== String(n)) return fail(`tensor ${split}.labels must be [${n}]`);
      const wrong = labels.data.findIndex((l) => !(Number.isInteger(l) && l >= 0 && l < classes));
      if (wrong >= 0) fail(`tensor ${split}.labels: ${labels.data[wrong]} at index ${wrong} is not a class index in 0..${classes - 1}`);
    }
    const per = x.data.length / n;
    return {
      shape: [...record.shape],
      size: n,
      get: (i) => ({ x: x.data.subarray(i * per, (i + 1) * per), ...(labels ? { label: labels.data[i] } : {}) }),
    };
  });
  return { location: source.location, manifest, record, vqgan: vqgan!, scale: record.scale, train: sets[0]!, validation: sets[1], hash };
}
