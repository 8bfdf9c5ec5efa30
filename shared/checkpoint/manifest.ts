// manifest.json: the schema of a checkpoint's metadata (DESIGN §4).
import { z } from 'zod';
import { IntensityMappingSchema } from '../intensity.ts';
import { CheckpointError } from './errors.ts';

export const CHECKPOINT_FORMAT = 'medsynth-checkpoint';
/** The version this code writes; it reads any 1.x (newer minors only add fields). */
export const CHECKPOINT_VERSION = '1.1';
export const SUPPORTED_MAJOR = 1;

export const MANIFEST_FILE = 'manifest.json';
/** Shard files are plain names in the checkpoint folder: no paths, no traversal. */
export const SHARD_FILE_RE = /^weights-\d{5}\.msgpack$/;

export function shardFileName(index: number): string {
  return `weights-${String(index).padStart(5, '0')}.msgpack`;
}

const VERSION_RE = /^(\d+)\.(\d+)$/;
const positiveInt = z.number().int().positive();

/** Limits on what one generated image may be (far above any model here: 256^3 x 4 is 67 M values). */
export const MAX_DATA_SIDE = 4096;
export const MAX_DATA_CHANNELS = 64;
export const MAX_DATA_VALUES = 1 << 27;
/** Deepest nesting of objects and arrays a manifest may have (real ones reach 5): zod and
 * JSON.stringify recurse, so a manifest nested thousands deep would overflow the stack. */
export const MAX_MANIFEST_DEPTH = 32;
const Modality = z.enum(['xray', 'mri', 'ct']);

/** What one class of a conditional model is, when classes differ (CT in HU beside MRI on a Nyul scale). */
const LabelDataSchema = z.object({
  modality: Modality,
  spacing: z.array(z.number().finite().positive()),
  intensity: IntensityMappingSchema,
});

export const ShardSpecSchema = z.object({
  file: z.string().regex(SHARD_FILE_RE, 'must be a file name like weights-00000.msgpack'),
  bytes: positiveInt,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
});

export const TensorSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(positiveInt),
  dtype: z.enum(['float32', 'float16', 'int8']),
  shard: z.string().regex(SHARD_FILE_RE, 'must be a file name like weights-00000.msgpack'),
  axis: z.number().int().nonnegative().optional(),
});

export const ManifestSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    version: z
      .string()
      .regex(VERSION_RE, 'must be "MAJOR.MINOR"')
      .refine((v) => Number(VERSION_RE.exec(v)?.[1]) === SUPPORTED_MAJOR, {
        message: `unsupported major version (this reader supports ${SUPPORTED_MAJOR}.x)`,
      }),
    name: z.string().min(1).max(200),
    kind: z.string().min(1).max(100),
    modality: Modality,
    labels: z.array(z.string()).optional(),
    model: z.record(z.string(), z.unknown()),
    schedule: z.record(z.string(), z.unknown()),
    sampler: z.object({
      name: z.string().min(1),
      steps: positiveInt,
      eta: z.number().finite().optional(),
      guidance: z.number().finite().optional(),
    }),
    data: z.object({
      // Bounded before anything is allocated from them: sampling makes noise of this shape.
      shape: z.array(positiveInt.max(MAX_DATA_SIDE)).min(1).max(4),
      channels: positiveInt.max(MAX_DATA_CHANNELS),
      spacing: z.array(z.number().finite().positive()),
      intensity: IntensityMappingSchema,
      /** How examples were put on the grid (trainer/preprocess/pipeline.ts target.fit); absent means 'crop'. */
      fit: z.enum(['crop', 'contain']).optional(),
      /** How a one-volume class's slices were held out in training (trainer/dataset.ts); absent means 'tail'. */
      heldOut: z.enum(['tail', 'slabs']).optional(),
      /** Since 1.1: per class, aligned with `labels`; absent means every class is described by the fields above. */
      perLabel: z.array(LabelDataSchema).optional(),
    }),
    quantization: z.enum(['fp32', 'fp16', 'int8']),
    shards: z.array(ShardSpecSchema).min(1),
    tensors: z.array(TensorSpecSchema).min(1),
    training: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((m, ctx) => {
    const voxels = m.data.shape.reduce((a, b) => a * b, 1) * m.data.channels;
    if (voxels > MAX_DATA_VALUES) {
      ctx.addIssue({ code: 'custom', path: ['data', 'shape'], message: `[${m.data.shape}] x ${m.data.channels} channels is ${voxels} values per image, over the limit of ${MAX_DATA_VALUES} (MAX_DATA_VALUES)` });
    }
    if (m.data.spacing.length !== m.data.shape.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['data', 'spacing'],
        message: `has ${m.data.spacing.length} entries but data.shape has ${m.data.shape.length}`,
      });
    }
    const perLabel = m.data.perLabel;
    if (perLabel) {
      if (perLabel.length !== (m.labels?.length ?? 0)) {
        ctx.addIssue({ code: 'custom', path: ['data', 'perLabel'], message: `has ${perLabel.length} entries but labels has ${m.labels?.length ?? 0}` });
      }
      perLabel.forEach((d, i) => {
        if (d.spacing.length !== m.data.shape.length) {
          ctx.addIssue({ code: 'custom', path: ['data', 'perLabel', i, 'spacing'], message: `has ${d.spacing.length} entries but data.shape has ${m.data.shape.length}` });
        }
      });
    }
    const shardFiles = new Set<string>();
    m.shards.forEach((s, i) => {
      if (shardFiles.has(s.file)) {
        ctx.addIssue({ code: 'custom', path: ['shards', i, 'file'], message: `shard ${s.file} is listed twice` });
      }
      shardFiles.add(s.file);
    });
    // Which stored dtypes each quantisation mode may use (int8 keeps rank < 2 tensors float32).
    const allowed = { fp32: ['float32'], fp16: ['float16', 'float32'], int8: ['int8', 'float32'] }[m.quantization];
    const names = new Set<string>();
    m.tensors.forEach((t, i) => {
      if (names.has(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['tensors', i, 'name'], message: `duplicate tensor name ${JSON.stringify(t.name)}` });
      }
      names.add(t.name);
      if (!shardFiles.has(t.shard)) {
        ctx.addIssue({ code: 'custom', path: ['tensors', i, 'shard'], message: `shard ${t.shard} is not listed in shards` });
      }
      if (!allowed.includes(t.dtype)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tensors', i, 'dtype'],
          message: `dtype ${t.dtype} is not allowed in a ${m.quantization} checkpoint`,
        });
      }
      if (t.dtype === 'int8') {
        if (t.axis === undefined || t.axis >= t.shape.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['tensors', i, 'axis'],
            message: `int8 tensors need a quantisation axis in [0, ${t.shape.length})`,
          });
        }
      } else if (t.axis !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tensors', i, 'axis'], message: 'only int8 tensors have a quantisation axis' });
      }
    });
  });

export type Manifest = z.infer<typeof ManifestSchema>;
export type LabelData = z.infer<typeof LabelDataSchema>;

/** Modality, spacing and intensity mapping of the images of class `label` (or of the model, for no label or the null label). */
export function labelData(m: Manifest, label?: number): LabelData {
  const own = label === undefined ? undefined : m.data.perLabel?.[label];
  return own ?? { modality: m.modality, spacing: m.data.spacing, intensity: m.data.intensity };
}
export type ShardSpec = z.infer<typeof ShardSpecSchema>;
export type TensorSpec = z.infer<typeof TensorSpecSchema>;

/** `a.b[2].c` from a zod issue path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(root)' : out;
}

/** A JSON value, shortened for an error message. */
function brief(v: unknown): string {
  const text = v === undefined ? 'nothing' : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

/** Nesting depth of a JSON value, measured without recursion and stopping past `limit`. */
function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    deepest = Math.max(deepest, depth);
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Validates an already-parsed manifest object. Throws CheckpointError naming `file` and the field. */
export function validateManifest(raw: unknown, file: string): Manifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CheckpointError(file, 'invalid manifest: not a JSON object');
  }
  if (jsonDepth(raw, MAX_MANIFEST_DEPTH) > MAX_MANIFEST_DEPTH) {
    throw new CheckpointError(file, `invalid manifest: nested more than ${MAX_MANIFEST_DEPTH} levels deep (MAX_MANIFEST_DEPTH)`);
  }
  const obj = raw as Record<string, unknown>;
  if (obj.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      file,
      `invalid manifest at format: expected "${CHECKPOINT_FORMAT}", got ${brief(obj.format)}`,
    );
  }
  // Checked before the schema: a different major may have a different layout,
  // and "unsupported version" is the useful message then.
  if (typeof obj.version === 'string') {
    const mm = VERSION_RE.exec(obj.version);
    if (mm && Number(mm[1]) !== SUPPORTED_MAJOR) {
      throw new CheckpointError(
        file,
        `unsupported checkpoint version ${obj.version} (this reader supports ${SUPPORTED_MAJOR}.x)`,
      );
    }
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) {
    const shown = r.error.issues.slice(0, 3).map((i) => `${formatPath(i.path)}: ${i.message}`);
    const more = r.error.issues.length > 3 ? ` (and ${r.error.issues.length - 3} more)` : '';
    throw new CheckpointError(file, `invalid manifest at ${shown.join('; ')}${more}`);
  }
  return r.data;
}

/** Parses manifest.json text. Throws CheckpointError naming `file` and the field path. */
export function parseManifest(text: string, file: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `invalid manifest: not valid JSON (${(e as Error).message})`);
  }
  return validateManifest(raw, file);
}
