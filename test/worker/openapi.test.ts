import { describe, expect, it } from 'vitest';
import { createApp } from '../../worker/app.ts';
import { fakeSampler, memoryStorage } from './fixtures.ts';

type Doc = { openapi: string; paths: Record<string, Record<string, any>> };

async function documentOf(config = {}): Promise<Doc> {
  const app = createApp({ storage: memoryStorage(new Map()), sampler: fakeSampler(), config });
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  return { ...((await res.json()) as Doc), routes: app.routes } as Doc & { routes: typeof app.routes };
}

describe('GET /openapi.json', () => {
  it("describes every route of the app, and only those", async () => {
    const doc = (await documentOf()) as Doc & { routes: { method: string; path: string }[] };
    expect(doc.openapi).toBe('3.1.0');
    // The app's own routes (middleware is registered as ALL), in OpenAPI's {param} spelling.
    const routes = doc.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(new Set(described)).toEqual(new Set(routes));
  });

  it("gives the sampling body of the request plan under this server's limits", async () => {
    const doc = await documentOf({ maxSteps: 50, maxCount: 4, apiKey: 'k'.repeat(16) });
    const post = doc.paths['/v1/models/{id}/samples'].post;
    const schema = post.requestBody.content['application/json'].schema;
    expect(Object.keys(schema.properties).sort()).toEqual(['count', 'eta', 'guidance', 'label', 'output', 'sampler', 'seed', 'steps']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toBeUndefined(); // every field has a default
    expect(schema.properties.steps).toMatchObject({ type: 'integer', minimum: 1, maximum: 50 });
    expect(schema.properties.count).toMatchObject({ type: 'integer', minimum: 1, maximum: 4 });
    expect(schema.properties.sampler.enum).toEqual(['ddpm', 'ddim', 'dpm-solver++', 'vdm']);
    expect(schema.properties.output).toMatchObject({ enum: ['png', 'nifti', 'json'], default: 'png' });
    expect(post.security).toEqual([{ bearer: [] }]);
    expect((await documentOf()).paths['/v1/models/{id}/samples'].post.security).toEqual([]);
  });
});
