// POST /v1/models/:id/samples — validate, admit (API key, rate, body size,
// queue), then run the injected SampleService under a deadline that also
// fires when the client disconnects. With `Accept: text/event-stream` the
// answer is Server-Sent Events: `progress` per step, then `result` (the
// encoded body in base64) or `error`.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { ServerConfig } from '../config.ts';
import { describeFailure, HttpError } from '../errors.ts';
import { toBase64 } from '../http/base64.ts';
import { requireApiKey } from '../limits/api-key.ts';
import { deadline, type Deadline } from '../limits/deadline.ts';
import { RateLimiter } from '../limits/rate-limit.ts';
import { QueueFullError, type WorkQueue } from '../limits/work-queue.ts';
import type { ManifestCache } from '../manifests.ts';
import { resolveSampleRequest } from '../sample-request.ts';
import type { SampleProgress, SampleJob, SampleResult, SampleService } from '../sample-service.ts';
import { isModelId } from '../storage.ts';

export interface SampleRouteDeps {
  sampler?: SampleService;
  manifests: ManifestCache;
  config: ServerConfig;
  queue: WorkQueue;
  /** Who is asking, for the rate limit (remote address, CF-Connecting-IP); undefined puts everyone in one bucket. */
  clientKey?: (c: Context) => string | undefined;
}

function resultHeaders(r: SampleJob, result: SampleResult): Record<string, string> {
  return {
    'Content-Type': result.contentType,
    'Content-Disposition': `inline; filename="${result.filename.replace(/[^\w.-]/g, '_')}"`,
    'Cache-Control': 'no-store',
    'X-Medsynth-Seed': String(r.seed),
    'X-Medsynth-Steps': String(r.steps),
    'X-Medsynth-Sampler': r.sampler,
  };
}

/** The error to report once `d` has fired: the time limit, or a client that left. */
function settled(e: unknown, d: Deadline, timeoutMs: number): unknown {
  if (!d.signal.aborted) return e;
  if (d.timedOut) return new HttpError(504, `sampling took longer than this server's limit of ${timeoutMs / 1000} s`);
  return new HttpError(408, 'the request was cancelled before sampling finished');
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'send the sampling request as Content-Type: application/json');
  try {
    return await c.req.json();
  } catch {
    throw new HttpError(400, 'the request body is not valid JSON');
  }
}

/** The route, as a sub-app to mount under /v1/models. */
export function sampleRoutes(deps: SampleRouteDeps): Hono {
  const { config, queue, manifests } = deps;
  const limiter = new RateLimiter(config.rateLimit);

  const configured: MiddlewareHandler = async (_c, next) => {
    if (!deps.sampler) throw new HttpError(501, 'server-side sampling is not configured here: set GPU_ORIGIN to a medsynth server with a GPU, or sample in the browser');
    return next();
  };
  const rateLimited: MiddlewareHandler = async (c, next) => {
    const wait = limiter.take(deps.clientKey?.(c) ?? 'unknown');
    if (wait > 0) throw new HttpError(429, `too many sampling requests: try again in ${wait} s`, { headers: { 'Retry-After': String(wait) } });
    return next();
  };
  const sizeLimited = bodyLimit({
    maxSize: config.bodyLimitBytes,
    onError: () => {
      throw new HttpError(413, `the request body is over this server's limit of ${config.bodyLimitBytes} bytes`);
    },
  });

  const handler: MiddlewareHandler = async (c) => {
    const sampler = deps.sampler!;
    const id = c.req.param('id') ?? '';
    if (!isModelId(id)) throw new HttpError(400, 'invalid model id');
    const body = await readJson(c);
    const found = await manifests.get(id);
    if (!found) throw new HttpError(404, `no model "${id}"`);
    if ('problem' in found) throw new HttpError(500, `model "${id}" cannot be sampled: ${found.problem}`);
    const request = resolveSampleRequest(body, found.manifest, config);

    const d = deadline(c.req.raw.signal, config.timeoutMs);
    let slot: Promise<() => void>;
    try {
      slot = queue.acquire(d.signal);
    } catch (e) {
      d.dispose();
      if (e instanceof QueueFullError) throw new HttpError(503, e.message, { headers: { 'Retry-After': String(config.retryAfterSeconds) } });
      throw e;
    }
    // Settle the slot even if nobody awaits it (e.g. the SSE client left before it started).
    slot.catch(() => {});
    const run = async (onProgress?: (p: SampleProgress) => void) => {
      let release: (() => void) | undefined;
      try {
        release = await slot;
        return await sampler.sample(id, request, { signal: d.signal, onProgress });
      } catch (e) {
        throw settled(e, d, config.timeoutMs);
      } finally {
        release?.();
        d.dispose();
      }
    };

    if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
      const result = await run();
      return c.body(result.body, 200, resultHeaders(request, result));
    }
    return streamSSE(c, async (stream: SSEStreamingApi) => {
      stream.onAbort(() => d.cancel());
      // Events go out strictly in order: progress callbacks do not wait for the network.
      let sent = Promise.resolve();
      const send = (event: string, data: unknown) => {
        sent = sent.then(() => stream.writeSSE({ event, data: JSON.stringify(data) }));
        return sent;
      };
      try {
        const result = await run((p) => void send('progress', p));
        const { contentType, filename } = result;
        await send('result', { contentType, filename, seed: request.seed, steps: request.steps, sampler: request.sampler, body: toBase64(result.body) });
      } catch (e) {
        const { status, body } = describeFailure(e);
        await send('error', { ...body, status });
      }
    });
  };

  return new Hono().post('/:id/samples', configured, requireApiKey(config.apiKey), rateLimited, sizeLimited, handler);
}
