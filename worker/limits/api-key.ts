// Bearer API key for sampling, when one is configured. Compared in constant
// time so response timing does not reveal how much of a guess was right.
import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { HttpError } from '../errors.ts';

export function requireApiKey(apiKey: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (apiKey === undefined) return next();
    // Stryker disable next-line Regex,StringLiteral: header values arrive trimmed, so \s*$ and \S*$ agree; any non-Bearer fallback text fails alike.
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m || !(await timingSafeEqual(m[1], apiKey))) {
      throw new HttpError(401, m ? 'invalid API key' : 'sampling needs an API key: send "Authorization: Bearer <key>"', {
        headers: { 'WWW-Authenticate': 'Bearer realm="medsynth"' },
      });
    }
    return next();
  };
}
