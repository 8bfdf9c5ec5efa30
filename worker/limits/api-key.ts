// Bearer API key for sampling, when one is configured: Hono's bearer-auth
// middleware (constant-time comparison, RFC 6750 challenges), answering in
// the app's JSON error shape.
import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { errorBody } from '../errors.ts';

/** `apiKey`: one key, or several accepted alike (rotation). */
export function requireApiKey(apiKey: string | readonly string[] | undefined): MiddlewareHandler {
  if (apiKey === undefined) return (_c, next) => next();
  return bearerAuth({
    token: typeof apiKey === 'string' ? apiKey : [...apiKey],
    realm: 'medsynth',
    noAuthenticationHeader: { message: errorBody('sampling needs an API key: send "Authorization: Bearer <key>"') },
    invalidAuthenticationHeader: { message: errorBody('malformed Authorization header: expected "Bearer <key>"') },
    invalidToken: { message: errorBody('invalid API key') },
  });
}
