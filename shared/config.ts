// Config validation shared by every typed config (models, schedules, samplers,
// generate options): one place that turns a zod issue into a message naming
// the field and what was expected.
import type { z } from 'zod';

/** `prefix.a.b[2]: message` for the first issue. */
export function formatIssue(prefix: string, error: z.ZodError): string {
  const issue = error.issues[0];
  let path = prefix;
  for (const p of issue.path) path += typeof p === 'number' ? `[${p}]` : path === '' ? String(p) : `.${String(p)}`;
  return `${path || '(root)'}: ${issue.message}`;
}

/** Parses `raw` with `schema`, throwing an Error that names the field on failure. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(formatIssue(prefix, r.error));
  return r.data;
}
