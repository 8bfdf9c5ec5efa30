// The app's read side through app.request: model list, manifest and shards
// (ETag, 304, Range/206/416, HEAD), name validation, CORS and security headers.
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { memoryStorage, sha256Etag, tinyCheckpointFiles } from './fixtures.ts';

let files: Map<string, Uint8Array>;
let models: Map<string, Map<string, Uint8Array>>;
let app: ReturnType<typeof createApp>;
let shard: Uint8Array;

beforeAll(async () => {
  files = await tinyCheckpointFiles({ shardBytes: 64 * 1024 });
  shard = files.get('weights-00000.msgpack')!;
  models = new Map([
    ['tiny', files],
    ['broken', new Map([['manifest.json', new TextEncoder().encode('{"format":"medsynth-checkpoint","version":"1.0"}')]])],
  ]);
  app = createApp({ storage: memoryStorage(models) });
});

const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

describe('GET /v1/models', () => {
  it('lists each model with its manifest summary, and a broken one with the reason', async () => {
    const res = await app.request('/v1/models');
    expect(res.status).toBe(200);
    const { models: list } = (await res.json()) as { models: Record<string, any>[] };
    expect(list.map((m) => m.id)).toEqual(['broken', 'tiny']);
    const tiny = list[1];
    expect(tiny).toMatchObject({ name: 'tiny-mri', kind: 'ddpm-unet2d', modality: 'mri', shape: [16, 16], channels: 1, quantization: 'fp32' });
    expect(tiny.sampler).toEqual({ name: 'ddim', steps: 3 });
    expect(tiny.manifest).toBe('/v1/models/tiny/manifest.json');
    expect(list[0].error.message).toMatch(/^broken\/manifest\.json: invalid manifest/);
  });

  it('revalidates: an ETag of the listing, 304 while it is unchanged', async () => {
    const res = await app.request('/v1/models');
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/); // hono/etag: SHA-1 of the body
    const again = await app.request('/v1/models', { headers: { 'If-None-Match': etag } });
    expect([again.status, await again.text()]).toEqual([304, '']);
    expect((await app.request('/v1/models', { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
  });
});

describe('GET /v1/models/:id/:file', () => {
  it('streams a shard byte-identical with a strong sha256 ETag and immutable caching', async () => {
    const res = await app.request('/v1/models/tiny/weights-00000.msgpack');
    expect(res.status).toBe(200);
    expect(await bytesOf(res)).toEqual(shard);
    expect(res.headers.get('etag')).toBe(sha256Etag(shard));
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-length')).toBe(String(shard.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('serves the manifest as JSON that revalidates', async () => {
    const res = await app.request('/v1/models/tiny/manifest.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, no-cache');
    expect(await bytesOf(res)).toEqual(files.get('manifest.json'));
  });

  it('answers 304 without a body when If-None-Match matches (weakly, in a list, or *)', async () => {
    const etag = sha256Etag(shard);
    for (const inm of [etag, `"other", W/${etag}`, '*']) {
      const res = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers: { 'If-None-Match': inm } });
      expect(res.status, inm).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toMatch(/immutable/);
      expect((await bytesOf(res)).length).toBe(0);
    }
    const miss = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers: { 'If-None-Match': '"stale"' } });
    expect(miss.status).toBe(200);
    expect(await bytesOf(miss)).toEqual(shard);
  });

  it('answers ranges with 206 and Content-Range', async () => {
    const n = shard.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=100-', 100, n - 1],
      ['bytes=-50', n - 50, n - 1],
      [`bytes=10-${n + 1000}`, 10, n - 1],
    ];
    for (const [range, first, last] of cases) {
      const res = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers: { Range: range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${first}-${last}/${n}`);
      expect(res.headers.get('content-length')).toBe(String(last - first + 1));
      expect(await bytesOf(res)).toEqual(shard.subarray(first, last + 1));
    }
  });

  it('answers 416 JSON for unsatisfiable ranges, and the whole file for ranges it does not honour', async () => {
    const n = shard.length;
    const res = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers: { Range: `bytes=${n}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${n}`);
    expect(((await res.json()) as any).error.message).toMatch(/not satisfiable/);
    const ignored: Record<string, string>[] = [{ Range: 'bytes=0-1,5-6' }, { Range: 'items=0-1' }, { Range: 'bytes=0-9', 'If-Range': '"stale"' }];
    for (const headers of ignored) {
      const whole = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers });
      expect(whole.status, JSON.stringify(headers)).toBe(200);
      expect(await bytesOf(whole)).toEqual(shard);
    }
    const conditional = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers: { Range: 'bytes=0-9', 'If-None-Match': sha256Etag(shard) } });
    expect(conditional.status).toBe(304);
  });

  it('answers HEAD with the headers only', async () => {
    const res = await app.request('/v1/models/tiny/weights-00000.msgpack', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(shard.length));
    expect(res.headers.get('etag')).toBe(sha256Etag(shard));
  });

  it('serves only manifest.json and weights-NNNNN.msgpack under valid ids: 404 / 400 JSON otherwise', async () => {
    const cases: [string, number][] = [
      ['/v1/models/tiny/weights-00099.msgpack', 404],
      ['/v1/models/nope/manifest.json', 404],
      ['/v1/models/tiny/secret.txt', 404],
      ['/v1/models/tiny/weights-0.msgpack', 404],
      ['/v1/models/tiny/..%2F..%2Fpackage.json', 404],
      ['/v1/models/tiny/%2e%2e', 404],
      ['/v1/models/Tiny/manifest.json', 400],
      ['/v1/models/%2e%2e/manifest.json', 404], // URL parsing resolves the dot segment first
      ['/v1/models/.hidden/manifest.json', 400],
      ['/v1/models/tiny/manifest.json/extra', 404],
      ['/nothing-here', 404],
    ];
    for (const [path, status] of cases) {
      const res = await app.request(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: { message: string } };
      expect(typeof body.error.message, path).toBe('string');
    }
  });

  it('re-reads a manifest that changed in storage', async () => {
    const edited = new TextEncoder().encode(new TextDecoder().decode(files.get('manifest.json')).replace('"tiny-mri"', '"tiny-mri-v2"'));
    models.set('tiny2', new Map([...files, ['manifest.json', files.get('manifest.json')!]]));
    const before = (await (await app.request('/v1/models')).json()) as any;
    expect(before.models.find((m: any) => m.id === 'tiny2').name).toBe('tiny-mri');
    models.get('tiny2')!.set('manifest.json', edited);
    const after = (await (await app.request('/v1/models')).json()) as any;
    expect(after.models.find((m: any) => m.id === 'tiny2').name).toBe('tiny-mri-v2');
    models.delete('tiny2');
  });
});

describe('headers', () => {
  it('allows cross-origin loading of shards (CORS, CORP cross-origin) with secure headers', async () => {
    const res = await app.request('/v1/models/tiny/weights-00000.msgpack', { headers: { Origin: 'https://example.org', Range: 'bytes=0-3' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/ETag.*Content-Range/);
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const preflight = await app.request('/v1/models/tiny/samples', {
      method: 'OPTIONS',
      headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('makes the page cross-origin isolated (COOP + COEP + CORP)', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });

  it('reports health', async () => {
    const res = await app.request('/healthz');
    expect(await res.json()).toEqual({ ok: true, sampling: false, active: 0, queued: 0 });
  });
});
