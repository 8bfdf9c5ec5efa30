// The server's limits and switches: one typed config, defaults and
// validation in one place, shared by the Node and Workers entries.
import { z } from 'zod';
import { parseConfig } from '../shared/config.ts';

const positiveInt = z.number().int().positive();

export const ServerConfigSchema = z.strictObject({
  /** Bearer token required for sampling; sampling is open when absent. Short keys are guessable. */
  apiKey: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Access-Control-Allow-Origin for /v1/*: '*' lets any page load shards and call the API. */
  corsOrigin: z.string().min(1).default('*'),
  /** Largest sampling request body in bytes (413 beyond). */
  bodyLimitBytes: positiveInt.max(1 << 20).default(16 * 1024),
  /** Per-client sampling rate: a token bucket of `requests` refilled over `windowMs` (429 when empty). */
  rateLimit: z
    .strictObject({
      requests: positiveInt.default(30),
      windowMs: positiveInt.default(60_000),
      /** Clients remembered at once; the least recently seen are forgotten first. */
      maxClients: positiveInt.default(10_000),
    })
    .prefault({}),
  /** Generations running at once: tfjs runs one graph at a time per process, so 1 is the honest default. */
  maxConcurrent: positiveInt.max(64).default(1),
  /** Requests waiting for a slot; beyond this the server answers 503 with Retry-After. */
  maxQueued: z.number().int().min(0).max(1024).default(8),
  /** Retry-After (seconds) sent with 503 when the queue is full. */
  retryAfterSeconds: positiveInt.max(3600).default(5),
  /** Wall-clock limit for one sampling request, queueing included (504 beyond). */
  timeoutMs: positiveInt.max(60 * 60_000).default(120_000),
  /** Images per request; 16 at most (DESIGN §6). */
  maxCount: positiveInt.max(16).default(16),
  /** Sampler steps per request, after the model's defaults are applied. */
  maxSteps: positiveInt.max(100_000).default(250),
});

export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

/** Validates `raw`, filling defaults; throws an Error naming the bad field. */
export function parseServerConfig(raw: ServerConfigInput = {}): ServerConfig {
  try {
    return parseConfig(ServerConfigSchema, raw, '');
  } catch (e) {
    throw new Error(`invalid server config at ${(e as Error).message}`);
  }
}
