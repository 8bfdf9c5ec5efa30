// POST /v1/models/:id/samples through app.request with a fake SampleService:
// validation (422 with field errors), defaults from the manifest, limits
// (401, 413, 429, 503, 504), SSE progress, cancellation, and failures that
// answer JSON while the app keeps serving.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, type AppDeps } from '../../worker/app.ts';
import { fromBase64 } from '../../worker/http/base64.ts';
import { readSse, type SseEvent } from '../../worker/http/sse.ts';
import { HttpError } from '../../worker/errors.ts';
import { fakeSampler, memoryStorage, tinyCheckpointFiles } from './fixtures.ts';

let storage: ReturnType<typeof memoryStorage>;

beforeAll(async () => {
  const [tiny, labelled, slow] = await Promise.all([
    tinyCheckpointFiles(),
    tinyCheckpointFiles({ labels: ['healthy', 'lesion'] }),
    tinyCheckpointFiles({ steps: 500 }),
  ]);
  storage = memoryStorage(new Map([['tiny', tiny], ['labelled', labelled], ['slow', slow]]));
});

function makeApp(deps: Partial<AppDeps> = {}) {
  return createApp({ storage, sampler: fakeSampler(), ...deps });
}

function post(app: ReturnType<typeof createApp>, id: string, body: unknown, init: RequestInit & { headers?: Record<string, string> } = {}) {
  return Promise.resolve(app.request(`/v1/models/${id}/samples`, {
    method: 'POST',
    ...init,
    headers: { 'Content-Type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }));
}

async function events(res: Response): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSse(res.body!)) out.push(e);
  return out;
}

type ErrorJson = { error: { message: string; issues?: { path: string; message: string }[] } };

describe('sampling: the happy path', () => {
  it('answers the encoded result with the manifest defaults filled in', async () => {
    const sampler = fakeSampler();
    const app = makeApp({ sampler });
    const res = await post(app, 'tiny', { seed: 7 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(await res.text()).toBe('png:tiny:7');
    expect(res.headers.get('x-medsynth-seed')).toBe('7');
    expect(res.headers.get('x-medsynth-steps')).toBe('3');
    expect(res.headers.get('x-medsynth-sampler')).toBe('ddim');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(sampler.calls[0].request).toEqual({ count: 1, steps: 3, sampler: 'ddim', eta: 0, seed: 7, guidance: 1, output: 'png' });
  });

  it('passes explicit settings through and picks (and reports) a random seed when none is given', async () => {
    const sampler = fakeSampler();
    const app = makeApp({ sampler });
    const res = await post(app, 'labelled', { count: 2, steps: 2, sampler: 'dpm-solver++', label: 'lesion', guidance: 2, eta: 0.5, output: 'json' });
    expect(res.status).toBe(200);
    const { request } = sampler.calls[0];
    // The label arrives as its class index: the job is planned once, here.
    expect(request).toMatchObject({ count: 2, steps: 2, sampler: 'dpm-solver++', label: 1, guidance: 2, eta: 0.5, output: 'json' });
    expect(Number.isInteger(request.seed)).toBe(true);
    expect(res.headers.get('x-medsynth-seed')).toBe(String(request.seed));
  });

  it('streams progress then the result as Server-Sent Events', async () => {
    const app = makeApp();
    const res = await post(app, 'tiny', { seed: 3 }, { headers: { Accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const got = await events(res);
    expect(got.map((e) => e.event)).toEqual(['progress', 'progress', 'progress', 'result']);
    expect(JSON.parse(got[0].data)).toEqual({ step: 1, totalSteps: 3 });
    const result = JSON.parse(got[3].data);
    expect(result).toMatchObject({ contentType: 'image/png', filename: 'tiny.png', seed: 3, steps: 3, sampler: 'ddim' });
    expect(new TextDecoder().decode(fromBase64(result.body))).toBe('png:tiny:3');
  });
});

describe('sampling: bad requests', () => {
  it('answers 422 with field errors', async () => {
    const app = makeApp();
    const cases: [string, unknown, string][] = [
      ['tiny', { count: 0 }, 'count'],
      ['tiny', { count: 17 }, 'count'],
      ['tiny', { steps: 1.5 }, 'steps'],
      ['tiny', { steps: 251 }, 'steps'],
      ['tiny', { sampler: 'euler' }, 'sampler'],
      ['tiny', { output: 'gif' }, 'output'],
      ['tiny', { seed: -1 }, 'seed'],
      ['tiny', { colour: 'red' }, '(body)'],
      ['tiny', [1, 2], '(body)'],
      ['tiny', { label: 'healthy' }, 'label'],
      ['labelled', { label: 'tumour' }, 'label'],
      ['labelled', { label: 2 }, 'label'],
      ['labelled', { guidance: 3 }, 'guidance'],
      ['slow', {}, 'steps'],
    ];
    for (const [id, body, path] of cases) {
      const res = await post(app, id, body);
      const what = `${id} ${JSON.stringify(body)}`;
      expect(res.status, what).toBe(422);
      const json = (await res.json()) as ErrorJson;
      expect(json.error.message, what).toMatch(/^invalid sampling request: /);
      expect(json.error.issues?.map((i) => i.path), what).toContain(path);
    }
  });

  it('reports every bad field of one body at once, the model checks (label, guidance) beside the schema ones', async () => {
    const res = await post(makeApp(), 'labelled', { count: 0, steps: 1.5, sampler: 'euler', label: 'tumour', colour: 'red' });
    expect(res.status).toBe(422);
    const json = (await res.json()) as ErrorJson;
    expect(json.error.issues?.map((i) => i.path).sort()).toEqual(['(body)', 'count', 'label', 'sampler', 'steps']);
    expect(json.error.issues?.find((i) => i.path === 'label')?.message).toBe('expected one of 0="healthy", 1="lesion"; got "tumour"');
  });

  it('answers 400 / 404 / 415 / 500 JSON for malformed bodies, unknown models and broken manifests', async () => {
    const bytes = new TextEncoder().encode('{"format":"medsynth-checkpoint","version":"1.0"}');
    const app = createApp({ storage: memoryStorage(new Map([['broken', new Map([['manifest.json', bytes]])]])), sampler: fakeSampler() });
    const cases: [Response, number, RegExp][] = [
      [await post(app, 'tiny', '{"count": '), 400, /not valid JSON/],
      [await post(app, 'tiny', {}, { headers: { 'Content-Type': 'text/plain' } }), 415, /application\/json/],
      [await post(app, 'nope', {}), 404, /no model "nope"/],
      [await post(app, 'NOPE', {}), 400, /invalid model id/],
      [await post(app, 'broken', {}), 500, /cannot be sampled: broken\/manifest\.json: invalid manifest/],
    ];
    for (const [res, status, message] of cases) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as ErrorJson).error.message).toMatch(message);
    }
  });

  it('answers 501 JSON when no sampler is configured', async () => {
    const res = await post(createApp({ storage }), 'tiny', {});
    expect(res.status).toBe(501);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/GPU_ORIGIN/);
  });
});

describe('sampling: limits', () => {
  const apiKey = 'k'.repeat(24);

  it('needs the bearer API key when one is configured (and only for sampling)', async () => {
    const app = makeApp({ config: { apiKey } });
    const none = await post(app, 'tiny', {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as ErrorJson).error.message).toMatch(/API key/);
    const wrong = await post(app, 'tiny', {}, { headers: { Authorization: `Bearer ${apiKey}x` } });
    expect([wrong.status, ((await wrong.json()) as ErrorJson).error.message, wrong.headers.get('www-authenticate')]).toEqual([401, 'invalid API key', 'Bearer error="invalid_token"']);
    // Not a bearer credential at all: 400 (RFC 6750 §3.1 invalid_request), still our JSON shape.
    const basic = await post(app, 'tiny', {}, { headers: { Authorization: 'Basic dXNlcjpwYXNz' } });
    expect([basic.status, ((await basic.json()) as ErrorJson).error.message]).toEqual([400, 'malformed Authorization header: expected "Bearer <key>"']);
    expect(basic.headers.get('access-control-allow-origin')).toBe('*'); // CORS headers on the middleware's answer too
    expect((await post(app, 'tiny', {}, { headers: { Authorization: `Bearer ${apiKey}` } })).status).toBe(200);
    expect((await app.request('/v1/models/tiny/manifest.json')).status).toBe(200);
  });

  it('accepts each of several keys alike (rotation), and no other', async () => {
    const keys = ['a'.repeat(16), 'b'.repeat(16)];
    const app = makeApp({ config: { apiKey: keys } });
    for (const key of keys) expect((await post(app, 'tiny', {}, { headers: { Authorization: `Bearer ${key}` } })).status, key).toBe(200);
    expect((await post(app, 'tiny', {}, { headers: { Authorization: `Bearer ${'c'.repeat(16)}` } })).status).toBe(401);
  });

  it('rejects a short API key, or one a bearer header cannot carry, in the config', () => {
    expect(() => makeApp({ config: { apiKey: 'short' } })).toThrow(/invalid server config at apiKey: must be at least 16 characters/);
    expect(() => makeApp({ config: { apiKey: 'a key with spaces!' } })).toThrow(/invalid server config at apiKey: must be a bearer token/);
  });

  it('answers 413 over the body limit, with or without Content-Length', async () => {
    const app = makeApp({ config: { bodyLimitBytes: 64 } });
    const big = JSON.stringify({ count: 1, pad: 'x'.repeat(100) });
    const variants: Record<string, string>[] = [{ 'Content-Length': String(big.length) }, {}];
    for (const headers of variants) {
      const res = await post(app, 'tiny', big, { headers });
      expect(res.status).toBe(413);
      expect(((await res.json()) as ErrorJson).error.message).toMatch(/over this server's limit of 64 bytes/);
    }
    expect((await post(app, 'tiny', { seed: 1 })).status).toBe(200);
  });

  it('answers 429 with Retry-After once a client has used its rate', async () => {
    const app = makeApp({ config: { rateLimit: { requests: 2, windowMs: 60_000 } }, clientKey: (c) => c.req.header('x-client') });
    const as = (client: string) => post(app, 'tiny', {}, { headers: { 'x-client': client } });
    expect((await as('a')).status).toBe(200);
    expect((await as('a')).status).toBe(200);
    const limited = await as('a');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited.json()) as ErrorJson).error.message).toMatch(/too many/);
    expect((await as('b')).status).toBe(200);
  });

  it('answers 503 with Retry-After when every slot and queue place is taken, and frees them on abort', async () => {
    const sampler = fakeSampler({ hang: true, stepMs: 5 });
    const app = makeApp({ sampler, config: { maxConcurrent: 1, maxQueued: 1, retryAfterSeconds: 7 } });
    const ctrls = [new AbortController(), new AbortController()];
    const running = ctrls.map((ctrl) => post(app, 'tiny', {}, { signal: ctrl.signal }));
    await vi.waitFor(() => expect(sampler.calls.length).toBe(1));
    const health = (await (await app.request('/healthz')).json()) as { active: number; queued: number };
    expect(health).toMatchObject({ active: 1, queued: 1 });
    const busy = await post(app, 'tiny', {});
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('7');
    expect(((await busy.json()) as ErrorJson).error.message).toMatch(/busy/);
    ctrls.forEach((c) => c.abort());
    const settled = await Promise.allSettled(running);
    expect(settled.length).toBe(2);
    expect(sampler.calls[0].signal.aborted).toBe(true);
    expect(sampler.calls.length).toBe(1); // the queued request left without running
    expect(await (await app.request('/healthz')).json()).toMatchObject({ active: 0, queued: 0 });
  });

  it('answers 504 when sampling passes the time limit, and stops the sampler', async () => {
    const sampler = fakeSampler({ hang: true, stepMs: 5 });
    const app = makeApp({ sampler, config: { timeoutMs: 60 } });
    const res = await post(app, 'tiny', {});
    expect(res.status).toBe(504);
    expect(((await res.json()) as ErrorJson).error.message).toMatch(/limit of 0.06 s/);
    expect(sampler.calls[0].signal.aborted).toBe(true);
  });
});

describe('sampling: failures and cancellation', () => {
  it('answers 500 JSON when the sampler fails mid-request, then keeps serving', async () => {
    const failing = fakeSampler({ failAfter: 2, error: new HttpError(500, 'sampling failed: NaN at step 2') });
    const app = makeApp({ sampler: failing });
    const res = await post(app, 'tiny', {});
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { message: 'sampling failed: NaN at step 2' } });
    expect((await app.request('/v1/models')).status).toBe(200);
  });

  it('hides unexpected errors behind a plain 500 (no message details, no stack)', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const app = makeApp({ sampler: fakeSampler({ failAfter: 1, error: new TypeError('secret /srv/path at line 3') }) });
      const res = await post(app, 'tiny', {});
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: { message: 'internal server error' } });
      expect(text).not.toMatch(/srv|at line|TypeError/);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('sends an error event when sampling fails after the stream started', async () => {
    const app = makeApp({ sampler: fakeSampler({ failAfter: 2, error: new HttpError(500, 'sampling failed: boom') }) });
    const got = await events(await post(app, 'tiny', {}, { headers: { Accept: 'text/event-stream' } }));
    expect(got.map((e) => e.event)).toEqual(['progress', 'progress', 'error']);
    expect(JSON.parse(got[2].data)).toEqual({ error: { message: 'sampling failed: boom' }, status: 500 });
  });

  it('cancels the run when the client disconnects (plain and SSE)', async () => {
    const sampler = fakeSampler({ hang: true, stepMs: 2 });
    const app = makeApp({ sampler });
    const ctrl = new AbortController();
    const plain = post(app, 'tiny', {}, { signal: ctrl.signal });
    await vi.waitFor(() => expect(sampler.calls.length).toBe(1));
    ctrl.abort();
    await plain.catch(() => {});
    await vi.waitFor(() => expect(sampler.calls[0].signal.aborted).toBe(true));

    const sse = await post(app, 'tiny', {}, { headers: { Accept: 'text/event-stream' } });
    const reader = sse.body!.getReader();
    await reader.read(); // the first progress event: the run is under way
    await reader.cancel();
    await vi.waitFor(() => expect(sampler.calls[1].signal.aborted).toBe(true));
    // The slot is released once the sampler has noticed, which takes one of its steps.
    await vi.waitFor(async () => expect(await (await app.request('/healthz')).json()).toMatchObject({ active: 0, queued: 0 }));
  });
});
