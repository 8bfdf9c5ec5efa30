// Every error leaves the server as JSON of one shape:
//   { "error": { "message": "...", "issues"?: [{ "path": "count", "message": "..." }] } }
// Stack traces and server paths stay in the server log.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { FieldIssue } from '../shared/request-error.ts';

export type { FieldIssue };

export interface ErrorBody {
  error: { message: string; issues?: FieldIssue[] };
}

/** An error with the HTTP status (and headers, field issues) it should answer with. */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly extra: { issues?: FieldIssue[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function errorBody(message: string, issues?: FieldIssue[]): ErrorBody {
  return { error: issues ? { message, issues } : { message } };
}

/** The client-facing status and body for any thrown value; unknown errors are logged and become a plain 500. */
export function describeFailure(err: unknown): { status: ContentfulStatusCode; body: ErrorBody; headers?: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, body: errorBody(err.message, err.extra.issues), headers: err.extra.headers };
  if (err instanceof HTTPException) return { status: err.status, body: errorBody(err.message || 'request failed') };
  console.error(err);
  return { status: 500, body: errorBody('internal server error') };
}

/** Hono's onError handler. */
export function onError(err: unknown, c: Context): Response {
  // A Hono middleware's own answer (bearer-auth's, already in our JSON shape, with its challenge header).
  if (err instanceof HTTPException && err.res) return err.getResponse();
  const { status, body, headers } = describeFailure(err);
  return c.json(body, status, headers);
}

/** Hono's notFound handler. */
export function notFound(c: Context): Response {
  return c.json(errorBody(`no route for ${c.req.method} ${c.req.path}`), 404);
}
