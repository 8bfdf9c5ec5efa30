// The Cache API side of checkpoint caching, shared by the page (isCached,
// clearCache) and the worker (shard-cache.ts). Shards are immutable and named
// by content: their cache key carries the manifest's sha256, so a republished
// model never reads an old shard. The manifest is always asked of the network
// (the server marks it no-cache: a model republished under the same id
// changes its manifest) and kept as a fallback for offline visits.
//
// Page-safe: no zod, msgpackr or tfjs, which the page bundle leaves to the worker.
import { CheckpointError } from '../../shared/checkpoint/errors.ts';
import type { CheckpointSource } from '../../shared/checkpoint/types.ts';
import { urlSource } from '../url-source.ts';

/** One Cache API cache for every model; entries are keyed by the model's URL. */
export const CACHE_NAME = 'medsynth-checkpoints-v1';

/** shared/checkpoint's MANIFEST_FILE; its module carries the zod schema, which the page bundle leaves out. */
export const MANIFEST = 'manifest.json';

/** What this module needs of the Cache API (CacheStorage in browsers; a fake in Node tests). */
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
}
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
  keys(): Promise<readonly { url: string }[]>;
}

export interface CacheDeps {
  /** Default: globalThis.caches (absent outside secure contexts: then nothing is cached). */
  caches?: CacheStorageLike;
  fetch?: typeof fetch;
}

export interface ShardEntry {
  file: string;
  bytes: number;
  sha256: string;
}

/** The checkpoint's URL prefix: absolute, without a trailing slash or manifest.json. */
export function modelBase(model: string, base?: string): string {
  const url = new URL(model, base ?? (globalThis as { location?: { href: string } }).location?.href);
  url.hash = '';
  url.search = '';
  return url.href.replace(/\/manifest\.json$/, '').replace(/\/+$/, '');
}

const manifestKey = (base: string) => `${base}/${MANIFEST}`;
export const shardKey = (base: string, s: ShardEntry) => `${base}/${encodeURIComponent(s.file)}?sha256=${s.sha256}`;

export async function openCache(deps: CacheDeps): Promise<CacheLike | undefined> {
  const storage = deps.caches ?? (globalThis as { caches?: CacheStorageLike }).caches;
  if (!storage) return undefined;
  try {
    return await storage.open(CACHE_NAME);
  } catch {
    return undefined; // e.g. storage disabled or an opaque origin: work uncached
  }
}

/** The shards a manifest lists, read leniently (the loader validates the manifest properly). */
export function shardsOf(manifestBytes: Uint8Array): ShardEntry[] {
  try {
    const m = JSON.parse(new TextDecoder().decode(manifestBytes)) as { shards?: unknown };
    if (!Array.isArray(m.shards)) return [];
    return m.shards.filter(
      (s): s is ShardEntry => typeof s?.file === 'string' && typeof s?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256) && Number.isSafeInteger(s?.bytes),
    );
  } catch {
    return [];
  }
}

export const bytesResponse = (bytes: Uint8Array) => new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/octet-stream' } });

/** The manifest from the network, else (offline, server down) the cached copy; stored on success. */
export async function fetchManifest(base: string, cache: CacheLike | undefined, net: CheckpointSource, maxBytes?: number): Promise<Uint8Array> {
  try {
    const bytes = await net.read(MANIFEST, undefined, maxBytes);
    await cache?.put(manifestKey(base), bytesResponse(bytes)).catch(() => {});
    return bytes;
  } catch (e) {
    // A missing or refused manifest is an answer; only an unreachable server falls back to the copy.
    const reachedServer = e instanceof CheckpointError && /HTTP \d/.test(e.message);
    const cached = reachedServer ? undefined : await cache?.match(manifestKey(base));
    if (!cached) throw e;
    return new Uint8Array(await cached.arrayBuffer());
  }
}

/** True when the cache holds every shard of `model`'s current manifest (fetched, or the cached copy offline). */
export async function isCached(model: string, deps: CacheDeps = {}): Promise<boolean> {
  const c = await openCache(deps);
  if (!c) return false;
  const base = modelBase(model);
  let manifest: Uint8Array;
  try {
    manifest = await fetchManifest(base, c, urlSource(base, deps.fetch ?? fetch));
  } catch {
    return false;
  }
  const shards = shardsOf(manifest);
  if (shards.length === 0) return false;
  for (const s of shards) if (!(await c.match(shardKey(base, s)))) return false;
  return true;
}

/** Deletes every cached file of `model` (all versions); resolves to how many entries went. */
export async function clearCache(model: string, deps: CacheDeps = {}): Promise<number> {
  const c = await openCache(deps);
  if (!c) return 0;
  const prefix = `${modelBase(model)}/`;
  let removed = 0;
  for (const req of await c.keys()) {
    if (req.url.startsWith(prefix) && (await c.delete(req.url))) removed++;
  }
  return removed;
}
