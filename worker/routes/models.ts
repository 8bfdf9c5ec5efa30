// GET /v1/models — every model in storage with what a client needs to pick
// one; a model whose manifest is unusable is listed with the reason, an id
// without a manifest is not a model.
import type { Context } from 'hono';
import type { ManifestCache, ManifestResult } from '../manifests.ts';
import type { ModelStorage } from '../storage.ts';

function summary(id: string, r: ManifestResult) {
  const base = `/v1/models/${id}`;
  if ('problem' in r) return { id, error: { message: r.problem } };
  const m = r.manifest;
  return {
    id,
    name: m.name,
    kind: m.kind,
    modality: m.modality,
    labels: m.labels ?? [],
    shape: m.data.shape,
    channels: m.data.channels,
    quantization: m.quantization,
    sampler: m.sampler,
    bytes: m.shards.reduce((n, s) => n + s.bytes, 0),
    manifest: `${base}/manifest.json`,
    samples: `${base}/samples`,
  };
}

export function listRoute(storage: ModelStorage, manifests: ManifestCache) {
  return async (c: Context): Promise<Response> => {
    const ids = await storage.listModels();
    const found = await Promise.all(ids.map(async (id) => [id, await manifests.get(id)] as const));
    const models = found.flatMap(([id, r]) => (r ? [summary(id, r)] : []));
    return c.json({ models }, 200, { 'Cache-Control': 'no-cache' });
  };
}
