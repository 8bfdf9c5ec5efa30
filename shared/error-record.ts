// Errors as plain data, for crossing a thread or Web Worker boundary
// (structured clone keeps neither the class nor its fields): one record shape
// and one way back, so the receiving side throws the same kind of error with
// the same fields.
import { ConfigError } from './config.ts';
import { BadInputError, CancelledError, errorKind, type ErrorKind } from './errors.ts';
import { RequestError, type FieldIssue } from './request-error.ts';

export interface ErrorRecord {
  name: string;
  message: string;
  kind: ErrorKind;
  /** ConfigError: the field at fault and the reason. */
  field?: string;
  reason?: string;
  /** RequestError: every field's problem. */
  issues?: FieldIssue[];
}

export function toErrorRecord(e: unknown): ErrorRecord {
  const name = e instanceof Error || (typeof DOMException !== 'undefined' && e instanceof DOMException) ? e.name : 'Error';
  const message = e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e);
  const r: ErrorRecord = { name, message, kind: errorKind(e) };
  if (e instanceof ConfigError) Object.assign(r, { field: e.field, reason: e.reason });
  if (e instanceof RequestError) r.issues = e.issues.map((i) => ({ ...i }));
  return r;
}

export function fromErrorRecord(r: ErrorRecord): Error {
  if (r.name === 'AbortError') return new DOMException(r.message, 'AbortError');
  if (r.issues) return new RequestError(r.issues);
  if (r.field !== undefined) return new ConfigError(r.field, r.reason ?? r.message);
  const e = r.kind === 'bad-input' ? new BadInputError(r.message) : r.kind === 'cancelled' ? new CancelledError(r.message) : new Error(r.message);
  e.name = r.name;
  return e;
}
