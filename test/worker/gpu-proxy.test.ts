// The GPU-origin proxy against scripted upstream responses: what it sends,
// progress relayed, and each upstream failure mapped to a client-facing error.
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../worker/errors.ts';
import { gpuProxy } from '../../worker/gpu-proxy.ts';
import { toBase64 } from '../../worker/http/base64.ts';
import type { SampleJob } from '../../worker/sample-service.ts';

const request: SampleJob = { count: 1, steps: 2, sampler: 'ddim', eta: 0, seed: 3, guidance: 1, output: 'png' };
const sse = (...events: [string, unknown][]) =>
  new Response(events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join(''), { headers: { 'Content-Type': 'text/event-stream' } });

function proxyAnswering(answer: () => Response | Promise<Response>) {
  const seen: Request[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    seen.push(new Request(input, init));
    return answer();
  }) as typeof fetch;
  return { proxy: gpuProxy('http://gpu.test/base', { apiKey: 'k'.repeat(16), fetch: fetchImpl }), seen };
}

const run = (proxy: ReturnType<typeof gpuProxy>, onProgress?: (p: unknown) => void) =>
  proxy.sample('tiny', request, { signal: new AbortController().signal, onProgress });

async function failure(answer: () => Response): Promise<HttpError> {
  const err = await run(proxyAnswering(answer).proxy).catch((e) => e);
  expect(err).toBeInstanceOf(HttpError);
  return err;
}

describe('gpuProxy', () => {
  it('posts the resolved request as SSE with the origin key, relays progress, decodes the result', async () => {
    const { proxy, seen } = proxyAnswering(() =>
      sse(['progress', { step: 1, totalSteps: 2 }], ['progress', { step: 2, totalSteps: 2 }], ['result', { contentType: 'image/png', filename: 't.png', body: toBase64(new Uint8Array([1, 2, 3])) }]),
    );
    const progress: unknown[] = [];
    const result = await run(proxy, (p) => progress.push(p));
    expect(result).toEqual({ contentType: 'image/png', filename: 't.png', body: new Uint8Array([1, 2, 3]) });
    expect(progress).toEqual([{ step: 1, totalSteps: 2 }, { step: 2, totalSteps: 2 }]);
    const [req] = seen;
    expect(req.url).toBe('http://gpu.test/base/v1/models/tiny/samples');
    expect(req.headers.get('accept')).toBe('text/event-stream');
    expect(req.headers.get('authorization')).toBe(`Bearer ${'k'.repeat(16)}`);
    expect(await req.json()).toEqual(request);
  });

  it('keeps request errors and busy answers, turns the rest into 502', async () => {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () => Response.json(body, { status, headers });
    const issues = [{ path: 'steps', message: 'too many' }];
    const e422 = await failure(json(422, { error: { message: 'invalid', issues } }));
    expect([e422.status, e422.message, e422.extra.issues]).toEqual([422, 'invalid', issues]);
    const e503 = await failure(json(503, { error: { message: 'busy' } }, { 'Retry-After': '9' }));
    expect([e503.status, e503.extra.headers]).toEqual([503, { 'Retry-After': '9' }]);
    expect((await failure(json(401, { error: { message: 'no' } }))).message).toMatch(/GPU_API_KEY/);
    expect((await failure(json(500, { error: { message: 'boom' } }))).message).toBe('the GPU origin failed: boom');
    expect((await failure(() => new Response('<html>', { status: 500 }))).message).toBe('the GPU origin sent malformed JSON');
    const midStream = await failure(() => sse(['progress', { step: 1, totalSteps: 2 }], ['error', { error: { message: 'NaN' }, status: 500 }]));
    expect([midStream.status, midStream.message]).toEqual([502, 'the GPU origin failed: NaN']);
    expect((await failure(() => sse(['progress', { step: 1, totalSteps: 2 }]))).message).toBe('the GPU origin ended its stream without a result');
  });

  it('refuses an origin that is not an http(s) URL', () => {
    expect(() => gpuProxy('ftp://gpu.test')).toThrow(/http\(s\) URL/);
    expect(() => gpuProxy('not a url')).toThrow();
  });
});
