// SampleService for the edge: forwards the validated request to a GPU
// origin (a medsynth Node server) and relays its progress and result. The
// upstream always streams (SSE), so progress reaches SSE clients here too,
// and aborting the signal drops the upstream connection, which cancels the
// generation there.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { HttpError, type FieldIssue } from './errors.ts';
import { fromBase64 } from './http/base64.ts';
import { readSse } from './http/sse.ts';
import type { SampleService } from './sample-service.ts';

interface UpstreamError {
  error?: { message?: string; issues?: FieldIssue[] };
  status?: number;
}

/**
 * The client-facing error for an upstream one: request errors (4xx) and
 * "busy"/"too slow" (503, 504) keep their status; a rejected key or any
 * other failure is a bad gateway.
 */
function relayed(status: number, body: UpstreamError, retryAfter?: string | null): HttpError {
  const message = body.error?.message ?? `HTTP ${status}`;
  if (status === 401 || status === 403) return new HttpError(502, "the GPU origin refused this server's API key (GPU_API_KEY)");
  if ((status >= 400 && status < 500) || status === 503 || status === 504) {
    return new HttpError(status as ContentfulStatusCode, message, { issues: body.error?.issues, headers: retryAfter ? { 'Retry-After': retryAfter } : undefined });
  }
  return new HttpError(502, `the GPU origin failed: ${message}`);
}

function parse<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new HttpError(502, 'the GPU origin sent malformed JSON');
  }
}

export function gpuProxy(origin: string, opts: { apiKey?: string; fetch?: typeof fetch } = {}): SampleService {
  const base = new URL(origin);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error(`GPU_ORIGIN must be an http(s) URL, got "${origin}"`);
  const fetchImpl = opts.fetch ?? fetch;

  return {
    async sample(id, request, { signal, onProgress }) {
      const url = new URL(`v1/models/${encodeURIComponent(id)}/samples`, base.href.replace(/\/?$/, '/'));
      let res: Response;
      try {
        res = await fetchImpl(url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'text/event-stream',
            ...(opts.apiKey ? { Authorization: `Bearer ${opts.apiKey}` } : {}),
          },
          body: JSON.stringify(request),
          signal,
        });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw new HttpError(502, `the GPU origin is unreachable: ${(e as Error).message}`);
      }
      if (!res.ok || !res.body) {
        const body = parse<UpstreamError>((await res.text()) || '{}');
        throw relayed(res.status, body, res.headers.get('retry-after'));
      }
      try {
        for await (const event of readSse(res.body)) {
          if (event.event === 'progress') onProgress?.(parse(event.data));
          else if (event.event === 'error') {
            const body = parse<UpstreamError>(event.data);
            throw relayed(body.status ?? 500, body);
          } else if (event.event === 'result') {
            const r = parse<{ contentType: string; filename: string; body: string }>(event.data);
            return { contentType: r.contentType, filename: r.filename, body: fromBase64(r.body) };
          }
        }
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (e instanceof HttpError) throw e;
        throw new HttpError(502, `the GPU origin's stream failed: ${(e as Error).message}`);
      }
      throw new HttpError(502, 'the GPU origin ended its stream without a result');
    },
  };
}
