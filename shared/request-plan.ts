// One sampling request, planned once: parsed, filled with the model's
// defaults from its manifest, checked against the model (labels, guidance,
// its schedule's step limit) and against the caller's limits. Every field's
// problem is reported at once. No tfjs: the Workers bundle (worker/) and
// generate() (sampler/) both plan with this.
import { z } from 'zod';
import type { Manifest } from './checkpoint/manifest.ts';
import { RequestError, type FieldIssue } from './request-error.ts';
import { SAMPLER_NAMES, type SamplerName } from './samplers/names.ts';
import { parseScheduleConfig, stepLimit } from './schedules/config.ts';

/** What a caller may ask for; absent fields take the manifest's defaults. */
export interface SampleOptions {
  count?: number;
  steps?: number;
  sampler?: SamplerName;
  eta?: number;
  seed?: number;
  /** Classifier-free guidance weight w (1 = plain conditional sampling). */
  guidance?: number;
  /** A class name from the manifest's `labels`, or its index. */
  label?: string | number;
}

/** The caller's bounds on one request (the server's are tighter than the library's). */
export interface RequestLimits {
  maxCount: number;
  maxSteps: number;
}
export const LIBRARY_LIMITS: RequestLimits = { maxCount: 1024, maxSteps: 100_000 };

/** A request with every default filled in, valid for the model. */
export interface RequestPlan {
  count: number;
  steps: number;
  sampler: SamplerName;
  /** DDIM's eta (0 = deterministic). */
  eta: number;
  seed: number;
  guidance: number;
  /** The class index, when a class was asked for. */
  label?: number;
}

/** The manifest fields a plan reads. */
export type PlanManifest = Pick<Manifest, 'name' | 'labels' | 'sampler' | 'schedule'>;

/** The request fields under `limits`, each validated on its own (also the server's OpenAPI body schema). */
export function requestFieldSchemas(limits: RequestLimits) {
  return {
    count: z.number().int().min(1).max(limits.maxCount).describe('images to generate (default 1)'),
    steps: z.number().int().min(1).max(limits.maxSteps).describe("sampler steps (default: the model's)"),
    sampler: z.enum(SAMPLER_NAMES).describe("the sampler (default: the model's)"),
    eta: z.number().min(0).max(1).describe('DDIM stochasticity: 0 deterministic, 1 DDPM-like'),
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('the seed; the same seed gives the same images'),
    guidance: z.number().min(0).max(100).describe('classifier-free guidance weight (1 = none); needs a label'),
    label: z.union([z.string().min(1).max(200), z.number().int().min(0)]).describe("the class, by name or index (the model's labels)"),
  };
}

export interface PlanOptions<E extends z.ZodRawShape> {
  limits?: RequestLimits;
  /** The seed when none is asked for (the library's 0; the server draws one and reports it). */
  defaultSeed?: () => number;
  /** Caller-specific fields validated beside the common ones (the server's `output`). */
  extra?: E;
}

/**
 * Plans `raw` (an options object or a JSON body) for the model of `manifest`;
 * throws one RequestError listing every problem.
 */
export function planRequest<E extends z.ZodRawShape = Record<never, never>>(
  raw: unknown,
  manifest: PlanManifest,
  opts: PlanOptions<E> = {},
): RequestPlan & z.output<z.ZodObject<E>> {
  const limits = opts.limits ?? LIBRARY_LIMITS;
  const issues: FieldIssue[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RequestError([{ path: '(body)', message: 'expected an object of sampling options' }]);
  }
  const fields: Record<string, z.ZodType> = { ...requestFieldSchemas(limits), ...(opts.extra ?? {}) };
  const given = raw as Record<string, unknown>;
  const value: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(fields, key)) issues.push({ path: '(body)', message: `unknown field "${key}"; fields: ${Object.keys(fields).join(', ')}` });
  }
  // Each field on its own, so that one bad field does not hide another.
  for (const [key, schema] of Object.entries(fields)) {
    const v = Object.hasOwn(given, key) ? given[key] : undefined;
    if (v === undefined && !(schema instanceof z.ZodDefault)) continue;
    const r = schema.safeParse(v);
    if (r.success) value[key] = r.data;
    else issues.push({ path: key, message: r.error.issues[0].message });
  }
  const bad = (key: string) => issues.some((i) => i.path === key);

  const settings = manifest.sampler;
  const steps = (value.steps as number | undefined) ?? settings.steps;
  if (!bad('steps')) {
    // Stryker disable next-line ConditionalExpression: an asked-for steps over the limit was refused by its schema above.
    if (value.steps === undefined && steps > limits.maxSteps) {
      issues.push({ path: 'steps', message: `the model's default of ${steps} steps is over the limit of ${limits.maxSteps}; ask for fewer` });
    }
    let max: number | undefined;
    try {
      max = stepLimit(parseScheduleConfig(manifest.schedule));
    } catch (e) {
      issues.push({ path: 'steps', message: `the model's schedule cannot be read (${(e as Error).message})` });
    }
    if (max !== undefined && steps > max) issues.push({ path: 'steps', message: `must be an integer in [1, ${max}], got ${steps}` });
  }
  const sampler = (value.sampler as string | undefined) ?? settings.name;
  if (!bad('sampler') && !(SAMPLER_NAMES as readonly string[]).includes(sampler)) {
    issues.push({ path: 'sampler', message: `the model's default sampler "${sampler}" is unknown here; choose one of ${SAMPLER_NAMES.join(', ')}` });
  }
  const labels = manifest.labels ?? [];
  const asked = value.label as string | number | undefined;
  let label: number | undefined;
  if (asked !== undefined) {
    if (labels.length === 0) issues.push({ path: 'label', message: `model "${manifest.name}" is not class-conditional` });
    else {
      label = typeof asked === 'number' ? asked : labels.indexOf(asked);
      if (label < 0 || label >= labels.length) {
        issues.push({ path: 'label', message: `expected one of ${labels.map((l, i) => `${i}="${l}"`).join(', ')}; got ${JSON.stringify(asked)}` });
      }
    }
  }
  // Guidance mixes conditional and unconditional predictions: without a class there is nothing to guide towards.
  const guidance = (value.guidance as number | undefined) ?? settings.guidance ?? 1;
  if (!bad('guidance') && !bad('label') && guidance !== 1 && asked === undefined) {
    issues.push({ path: 'guidance', message: `guidance ${guidance}${value.guidance === undefined ? " (the model's default)" : ''} needs a label` });
  }
  if (issues.length) throw new RequestError(issues);

  const extra = Object.fromEntries(Object.keys(opts.extra ?? {}).filter((k) => k in value).map((k) => [k, value[k]]));
  return {
    ...(extra as z.output<z.ZodObject<E>>),
    count: (value.count as number | undefined) ?? 1,
    steps,
    sampler: sampler as SamplerName, // checked above
    eta: (value.eta as number | undefined) ?? settings.eta ?? 0,
    seed: (value.seed as number | undefined) ?? opts.defaultSeed?.() ?? 0,
    guidance,
    ...(label === undefined ? {} : { label }),
  };
}

