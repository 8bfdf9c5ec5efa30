// The server's limits and switches: one typed config, defaults and
// validation in one place, shared by the Node and Workers entries. Each
// field's description is the one documentation of it: the settings table
// (worker/settings.ts, the README) and /openapi.json read it from here.
import { z } from 'zod';
import { ConfigError, parseConfig } from '../shared/config.ts';
import { BadInputError } from '../shared/errors.ts';

const positiveInt = z.number().int().positive();
const bearerToken = z
  .string()
  .min(16, 'must be at least 16 characters')
  .regex(/^[A-Za-z0-9._~+/-]+=*$/, 'must be a bearer token (RFC 6750): letters, digits and ._~+/-, then any "="');

export const ServerConfigSchema = z.strictObject({
  apiKey: z
    .union([bearerToken, z.array(bearerToken).min(1).max(16)])
    .optional()
    .describe('bearer key clients must send to sample (at least 16 characters), or several separated by commas (rotation: old,new); sampling is open when unset'),
  corsOrigin: z.string().min(1).default('*').describe('Access-Control-Allow-Origin of the /v1/ routes; "*" lets any page load shards and call the API'),
  bodyLimitBytes: positiveInt.max(1 << 20).default(16 * 1024).describe('largest sampling request body in bytes (413 beyond)'),
  /** Per-client sampling rate: a token bucket of `requests` refilled over `windowMs` (429 when empty). */
  rateLimit: z
    .strictObject({
      requests: positiveInt.default(30).describe('sampling requests per client per window (a token bucket; 429 when empty)'),
      windowMs: positiveInt.default(60_000).describe('the rate window in ms, over which the bucket refills'),
      maxClients: positiveInt.default(10_000).describe('clients the rate limit remembers at once; the least recently seen are forgotten first'),
    })
    .prefault({}),
  maxConcurrent: positiveInt.max(64).default(1).describe('generations running at once (Node: default --threads, one per core)'),
  maxQueued: z.number().int().min(0).max(1024).default(8).describe('requests waiting for a slot; beyond this 503 with Retry-After'),
  retryAfterSeconds: positiveInt.max(3600).default(5).describe('Retry-After (s) sent with 503 when the queue is full'),
  timeoutMs: positiveInt.max(60 * 60_000).default(120_000).describe('time limit of one sampling request in ms, queueing included (504 beyond)'),
  maxCount: positiveInt.max(16).default(16).describe('images per request (16 at most, DESIGN §6)'),
  maxSteps: positiveInt.max(100_000).default(250).describe("sampler steps per request, after the model's defaults are applied"),
});

export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

/** Validates `raw`, filling defaults; throws a BadInputError naming the bad field (its cause: the ConfigError). */
export function parseServerConfig(raw: ServerConfigInput = {}): ServerConfig {
  try {
    return parseConfig(ServerConfigSchema, raw, '');
  } catch (e) {
    if (e instanceof ConfigError) throw new BadInputError(`invalid server config at ${e.message}`, { cause: e });
    throw e;
  }
}
