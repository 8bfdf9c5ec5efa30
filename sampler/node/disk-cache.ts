// The Cache API's interface (cache-store.ts CacheStorageLike) over a folder,
// so Node caches downloaded checkpoints exactly as the browser does: shards
// keyed by URL and sha256, checked when read back (a corrupt entry is dropped
// and fetched again, shard-cache.ts). Each entry is <hash of key>.bin beside
// <hash of key>.key (the key itself), written atomically.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CacheLike, CacheStorageLike } from '../browser/cache-store.ts';
import { writeFileAtomic } from './atomic-file.ts';

/** $MEDSYNTH_CACHE_DIR, else $XDG_CACHE_HOME/medsynth, else ~/.cache/medsynth. */
export function defaultCacheDir(): string {
  return process.env.MEDSYNTH_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'medsynth');
}

const entryName = (key: string) => createHash('sha256').update(key).digest('hex');

export function diskCache(dir: string): CacheStorageLike {
  return {
    async open(name) {
      const folder = join(dir, name);
      await mkdir(folder, { recursive: true });
      const cache: CacheLike = {
        async match(key) {
          const bytes = await readFile(join(folder, `${entryName(key)}.bin`)).catch(() => undefined);
          return bytes && new Response(new Uint8Array(bytes));
        },
        async put(key, response) {
          const e = entryName(key);
          await writeFileAtomic(join(folder, `${e}.bin`), new Uint8Array(await response.arrayBuffer()));
          await writeFileAtomic(join(folder, `${e}.key`), key);
        },
        async delete(key) {
          const e = entryName(key);
          const had = await readFile(join(folder, `${e}.key`)).then(() => true, () => false);
          await rm(join(folder, `${e}.bin`), { force: true });
          await rm(join(folder, `${e}.key`), { force: true });
          return had;
        },
        async keys() {
          const files = (await readdir(folder)).filter((f) => f.endsWith('.key'));
          return Promise.all(files.map(async (f) => ({ url: await readFile(join(folder, f), 'utf8') })));
        },
      };
      return cache;
    },
  };
}
