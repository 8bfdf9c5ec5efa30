// The sampling request body (DESIGN §6), planned by the one request plan
// (shared/request-plan.ts) under this server's limits, with the server's own
// field (`output`). Every problem is one 422 listing each field's issue.
import { z } from 'zod';
import type { Manifest } from '../shared/checkpoint/manifest.ts';
import { RequestError } from '../shared/request-error.ts';
import { planRequest } from '../shared/request-plan.ts';
import type { ServerConfig } from './config.ts';
import { HttpError } from './errors.ts';
import { OUTPUTS, type SampleJob } from './sample-service.ts';

/** The server's own request fields, beside the request plan's. */
export const SERVER_FIELDS = { output: z.enum(OUTPUTS).default('png') };

function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** The body planned for `manifest`'s model; throws HttpError 422 naming every bad field. */
export function resolveSampleRequest(body: unknown, manifest: Manifest, config: ServerConfig): SampleJob {
  try {
    // Default: a random seed, reported back (X-Medsynth-Seed) so the result can be reproduced.
    return planRequest(body, manifest, { limits: config, defaultSeed: randomSeed, extra: SERVER_FIELDS });
  } catch (e) {
    if (e instanceof RequestError) throw new HttpError(422, `invalid sampling request: ${e.message}`, { issues: e.issues });
    throw e;
  }
}
