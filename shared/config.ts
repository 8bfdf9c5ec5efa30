// Config validation shared by every typed config (models, schedules, samplers,
// generate options): one place that turns a zod issue into a message naming
// the field and what was expected.
import type { z } from 'zod';
import { BadInputError } from './errors.ts';

/** A bad setting: `field` is its path (e.g. "model.groups", "steps"), the message `${field}: ${reason}`. */
export class ConfigError extends BadInputError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/** The field path `prefix.a.b[2]` of the first issue, and its message. */
function firstIssue(prefix: string, error: z.ZodError): ConfigError {
  const issue = error.issues[0];
  let path = prefix;
  for (const p of issue.path) path += typeof p === 'number' ? `[${p}]` : path === '' ? String(p) : `.${String(p)}`;
  return new ConfigError(path || '(root)', issue.message);
}

/** `prefix.a.b[2]: message` for the first issue. */
export function formatIssue(prefix: string, error: z.ZodError): string {
  return firstIssue(prefix, error).message;
}

/** Parses `raw` with `schema`, throwing a ConfigError that names the field on failure. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw firstIssue(prefix, r.error);
  return r.data;
}

/** Runs `f`, reporting any error it throws as a ConfigError on `field` (ConfigErrors pass through). */
export function forField<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(field, e instanceof Error ? e.message : String(e));
  }
}
