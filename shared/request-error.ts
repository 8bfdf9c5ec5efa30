// The error of a refused sampling request (request-plan.ts), in a file of
// its own so that the browser page module can revive it without zod.
import { ConfigError } from './config.ts';

export interface FieldIssue {
  /** The field's name, or "(body)" for the request as a whole. */
  path: string;
  message: string;
}

/**
 * A request the model or the limits refuse; `issues` holds every field's
 * problem. A ConfigError on the first field, so "field: reason" holds.
 */
export class RequestError extends ConfigError {
  constructor(readonly issues: FieldIssue[]) {
    super(issues[0]?.path ?? '(body)', [issues[0]?.message ?? 'invalid request', ...issues.slice(1).map((i) => `${i.path}: ${i.message}`)].join('; '));
    this.name = 'RequestError';
  }
}
