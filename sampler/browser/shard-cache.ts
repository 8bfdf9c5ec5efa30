// The worker's checkpoint source: a URL prefix whose shards are read from the
// Cache API when it holds them and stored there when downloaded, so a second
// visit generates without downloading them again (keys and manifest handling:
// cache-store.ts). Every shard is checked against the manifest's sha256 before
// it is stored and when it is read back (a bad entry is dropped and fetched
// anew); the loader checks once more, as for any source.
import { oversizeError } from '../../shared/checkpoint/errors.ts';
import { sha256Hex } from '../../shared/checkpoint/shard.ts';
import type { CheckpointSource } from '../../shared/checkpoint/types.ts';
import { urlSource } from '../url-source.ts';
import { MANIFEST, bytesResponse, fetchManifest, modelBase, openCache, shardKey, shardsOf, type CacheDeps, type CacheLike, type ShardEntry } from './cache-store.ts';

/** A cached shard if present and intact; a corrupt entry is deleted. */
async function readCachedShard(cache: CacheLike, key: string, s: ShardEntry): Promise<Uint8Array | undefined> {
  const hit = await cache.match(key).catch(() => undefined);
  if (!hit) return undefined;
  const bytes = new Uint8Array(await hit.arrayBuffer());
  if (bytes.length === s.bytes && (await sha256Hex(bytes)) === s.sha256) return bytes;
  await cache.delete(key).catch(() => false);
  return undefined;
}

export interface CachedSource extends CheckpointSource {
  /** Shards read from the cache and from the network so far. */
  readonly stats: { cached: number; fetched: number };
}

/**
 * A CheckpointSource over `model` (an http(s) URL prefix) that reads shards
 * from the Cache API when it holds them, and stores what it downloads.
 * `onShard` tells, per shard, whether it came from the cache.
 */
export function cachedSource(model: string, deps: CacheDeps & { onShard?: (file: string, cached: boolean) => void } = {}): CachedSource {
  const base = modelBase(model);
  const fetchImpl = deps.fetch ?? fetch;
  const net = urlSource(base, fetchImpl);
  // Shards bypass the HTTP cache: the Cache API holds them, once.
  const shardNet = urlSource(base, (input, init) => fetchImpl(input, { ...init, cache: 'no-store' }));
  let cache: Promise<CacheLike | undefined> | undefined;
  const shards = new Map<string, ShardEntry>();
  const stats = { cached: 0, fetched: 0 };
  return {
    location: base,
    stats,
    async read(file, onBytes, maxBytes) {
      cache ??= openCache(deps);
      const c = await cache;
      if (file === MANIFEST) {
        const bytes = await fetchManifest(base, c, net, maxBytes);
        shards.clear();
        for (const s of shardsOf(bytes)) shards.set(s.file, s);
        onBytes?.(bytes.length);
        return bytes;
      }
      const entry = shards.get(file);
      const key = c && entry ? shardKey(base, entry) : undefined;
      const hit = key ? await readCachedShard(c!, key, entry!) : undefined;
      if (hit && maxBytes !== undefined && hit.length > maxBytes) {
        throw oversizeError(`${base}/${file}`, hit.length, maxBytes);
      }
      if (hit) {
        stats.cached++;
        deps.onShard?.(file, true);
        onBytes?.(hit.length);
        return hit;
      }
      stats.fetched++;
      deps.onShard?.(file, false);
      const bytes = await shardNet.read(file, onBytes, maxBytes);
      // Only intact shards are kept (without a cache or a manifest entry to key by, none are); a bad download is left for the loader to report.
      if (key && bytes.length === entry!.bytes && (await sha256Hex(bytes)) === entry!.sha256) {
        await c!.put(key, bytesResponse(bytes)).catch(() => {});
      }
      return bytes;
    },
  };
}

