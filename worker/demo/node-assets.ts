// The browser bundle's folder as the app's AssetStore on Node (medsynth
// serve, npm start): files streamed from disk with a weak ETag from their
// size and mtime, so a rebuilt bundle is picked up without a restart.
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ASSET_FILE_RE, type AssetStore } from './assets.ts';
import { packagePath } from '../../sampler/node/package-files.ts';

/** Where scripts/build-browser.ts writes the bundle (dist/web is the static web root; the bundle is its browser/). */
const WEB_ROOT = packagePath('dist', 'web');
export const BROWSER_DIR = join(WEB_ROOT, 'browser');

export function folderAssets(dir: string = BROWSER_DIR): AssetStore {
  return {
    built: () => stat(join(dir, 'medsynth.js')).then(
      (s) => s.isFile(),
      () => false,
    ),
    async get(file) {
      if (!ASSET_FILE_RE.test(file)) return undefined;
      const fh = await open(join(dir, file)).catch(() => undefined);
      if (!fh) return undefined;
      try {
        const s = await fh.stat();
        if (!s.isFile()) throw new Error('not a file');
        // The stream owns the handle from here: it closes it at the end, on error and on cancel.
        const body = Readable.toWeb(fh.createReadStream()) as ReadableStream<Uint8Array>;
        return { size: s.size, etag: `W/"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`, body };
      } catch {
        await fh.close();
        return undefined;
      }
    },
  };
}
