// The Node API with the browser's shape (medsynth/browser createGenerator):
// generate(options, { signal, onProgress }) with the same progress events
// (backend, download with bytes and whether from the cache, steps) and the
// same result, the model kept loaded between calls. A URL model's shards are
// cached on disk (disk-cache.ts), by the same code as the browser's Cache API
// cache, so an unchanged model is never downloaded twice; folders are read
// in place.
import { generate, type GenerateOptions } from '../generate.ts';
import { isUrl, loadModel, type LoadedModel } from '../load.ts';
import { selectBackend, type BackendName } from '../backend.ts';
import { cachedSource, type CachedSource } from '../browser/shard-cache.ts';
import { clearCache, isCached } from '../browser/cache-store.ts';
import type { BrowserGenerateResult } from '../browser/protocol.ts';
import { defaultCacheDir, diskCache } from './disk-cache.ts';

export interface NodeGeneratorOptions {
  /** A checkpoint folder, or an http(s) URL prefix (cached on disk). */
  model: string;
  /** Forces a backend; by default the first of Node's order that works. */
  backend?: BackendName;
  /** Where URL models are cached; default defaultCacheDir() (~/.cache/medsynth). */
  cacheDir?: string;
}

export type NodeProgress =
  | { phase: 'backend'; backend: { name: string; skipped: string[] } }
  | { phase: 'download'; file: string; loaded: number; total: number; cached: boolean }
  | { phase: 'steps'; step: number; totalSteps: number };

/** The browser's result (BrowserGenerateResult), with Node's backend names; shards: from the disk cache, from the network (folders: 0 and 0). */
export type NodeGenerateResult = Omit<BrowserGenerateResult, 'backend'> & { backend: { name: string; skipped: string[] } };

export interface NodeGenerator {
  readonly model: string;
  generate(options?: GenerateOptions, hooks?: { signal?: AbortSignal; onProgress?: (p: NodeProgress) => void }): Promise<NodeGenerateResult>;
  /** Whether every shard of a URL model is in the disk cache (a folder: false). */
  isCached(): Promise<boolean>;
  /** Removes a URL model's cached files; resolves to how many went. */
  clearCache(): Promise<number>;
  /** Frees the loaded model; the generator can load it again. */
  dispose(): void;
}

export function createGenerator(opts: NodeGeneratorOptions): NodeGenerator {
  const caches = diskCache(opts.cacheDir ?? defaultCacheDir());
  let loaded: LoadedModel | undefined;
  return {
    model: opts.model,
    async generate(options = {}, hooks = {}) {
      const backend = await selectBackend(opts.backend);
      hooks.onProgress?.({ phase: 'backend', backend: { name: backend.name, skipped: backend.skipped } });
      const t0 = performance.now();
      let source: CachedSource | undefined;
      if (!loaded) {
        const shardFrom = new Map<string, boolean>();
        source = isUrl(opts.model) ? cachedSource(opts.model, { caches, onShard: (file, cached) => shardFrom.set(file, cached) }) : undefined;
        loaded = await loadModel(source ?? opts.model, {
          onProgress: (p) => hooks.onProgress?.({ phase: 'download', file: p.file, loaded: p.loaded, total: p.total, cached: shardFrom.get(p.file) ?? false }),
        });
      }
      const t1 = performance.now();
      const result = await generate(loaded, options, { signal: hooks.signal, onProgress: (p) => hooks.onProgress?.({ phase: 'steps', step: p.step, totalSteps: p.totalSteps }) });
      return {
        images: result.images,
        backend: { name: backend.name, skipped: backend.skipped },
        sampler: result.sampler,
        steps: result.steps,
        seed: result.seed,
        timings: { loadMs: t1 - t0, generateMs: performance.now() - t1 },
        shards: { cached: source?.stats.cached ?? 0, fetched: source?.stats.fetched ?? 0 },
      };
    },
    isCached: () => (isUrl(opts.model) ? isCached(opts.model, { caches }) : Promise.resolve(false)),
    clearCache: () => (isUrl(opts.model) ? clearCache(opts.model, { caches }) : Promise.resolve(0)),
    dispose() {
      loaded?.dispose();
      loaded = undefined;
    },
  };
}
