// The sampling request body (DESIGN §6): its schema, and its resolution
// against the model's manifest (defaults, labels, limits). Every problem is a
// 422 naming the field.
import { z } from 'zod';
import type { Manifest } from '../shared/checkpoint/manifest.ts';
import type { ServerConfig } from './config.ts';
import { HttpError, type FieldIssue } from './errors.ts';
import { OUTPUTS, SAMPLER_NAMES, type SampleRequest, type SamplerName } from './sample-service.ts';

export function sampleBodySchema(config: ServerConfig) {
  return z.strictObject({
    count: z.number().int().min(1).max(config.maxCount).default(1),
    /** Default: the model's recorded sampler steps. */
    steps: z.number().int().min(1).max(config.maxSteps).optional(),
    sampler: z.enum(SAMPLER_NAMES).optional(),
    eta: z.number().min(0).max(1).optional(),
    /** Default: a random seed, reported back (X-Medsynth-Seed) so the result can be reproduced. */
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    guidance: z.number().min(0).max(100).optional(),
    /** A class name from the manifest's labels, or its index. */
    label: z.union([z.string().min(1).max(200), z.number().int().min(0)]).optional(),
    output: z.enum(OUTPUTS).default('png'),
  });
}

function unprocessable(issues: FieldIssue[]): HttpError {
  return new HttpError(422, `invalid sampling request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
}

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** The body validated, with `manifest`'s defaults filled in and checked against it; throws HttpError 422. */
export function resolveSampleRequest(body: unknown, manifest: Manifest, config: ServerConfig): SampleRequest {
  const parsed = sampleBodySchema(config).safeParse(body);
  if (!parsed.success) {
    throw unprocessable(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message })));
  }
  const b = parsed.data;
  const issues: FieldIssue[] = [];
  const steps = b.steps ?? manifest.sampler.steps;
  if (steps > config.maxSteps) {
    issues.push({ path: 'steps', message: `the model's default of ${steps} steps is over this server's limit of ${config.maxSteps}; ask for fewer` });
  }
  const sampler = b.sampler ?? manifest.sampler.name;
  if (!(SAMPLER_NAMES as readonly string[]).includes(sampler)) {
    issues.push({ path: 'sampler', message: `the model's default sampler "${sampler}" is unknown here; choose one of ${SAMPLER_NAMES.join(', ')}` });
  }
  const labels = manifest.labels ?? [];
  if (b.label !== undefined) {
    if (labels.length === 0) issues.push({ path: 'label', message: `model "${manifest.name}" is not class-conditional` });
    else if (typeof b.label === 'number' ? b.label >= labels.length : !labels.includes(b.label)) {
      issues.push({ path: 'label', message: `expected one of ${labels.map((l, i) => `${i} ("${l}")`).join(', ')}` });
    }
  }
  // generate() refuses guidance without a label, the model's default guidance included.
  const guidance = b.guidance ?? manifest.sampler.guidance ?? 1;
  if (guidance !== 1 && b.label === undefined) {
    issues.push({ path: 'guidance', message: `guidance ${guidance}${b.guidance === undefined ? " (the model's default)" : ''} needs a label` });
  }
  if (issues.length) throw unprocessable(issues);
  return {
    count: b.count,
    steps,
    sampler: sampler as SamplerName, // checked above
    seed: b.seed ?? randomSeed(),
    output: b.output,
    ...(b.eta === undefined ? {} : { eta: b.eta }),
    ...(b.guidance === undefined ? {} : { guidance: b.guidance }),
    ...(b.label === undefined ? {} : { label: b.label }),
  };
}
