// GET/HEAD /browser/:file — the browser bundle (scripts/build-browser.ts):
// the page module, the worker script and the wasm binaries. Storage is
// injected like the models' (a folder on Node; on Workers the same files are
// static assets served before the app, with these headers from _headers).
import type { Context } from 'hono';
import { HttpError } from '../errors.ts';
import { noneMatchHits } from '../http/conditional.ts';

/** Headers of every bundle file: loadable by cross-origin isolated pages on any origin, and isolated itself as a worker. */
export const ASSET_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Access-Control-Allow-Origin': '*',
  // Names are not content-hashed: revalidate (ETag) so a rebuilt bundle is picked up.
  'Cache-Control': 'no-cache',
};

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  // application/wasm lets browsers compile while downloading.
  wasm: 'application/wasm',
  map: 'application/json; charset=utf-8',
};

/** Flat file names only: nothing can climb out of the bundle folder. */
export const ASSET_FILE_RE = /^[a-z0-9][a-z0-9.-]{0,80}\.(js|wasm|map)$/;

export interface AssetFile {
  size: number;
  /** Quoted entity tag, strong or weak. */
  etag: string;
  body: ReadableStream<Uint8Array>;
}

export interface AssetStore {
  /** The file, or undefined when it does not exist. */
  get(file: string): Promise<AssetFile | undefined>;
  /** Whether a bundle is there at all (to tell a missing build from a missing file). */
  built(): Promise<boolean>;
}

export function assetRoute(store: AssetStore | undefined) {
  return async (c: Context): Promise<Response> => {
    const file = c.req.param('file') ?? '';
    const ext = ASSET_FILE_RE.exec(file)?.[1];
    if (!ext) throw new HttpError(404, `no such file "${file.slice(0, 80)}" in the browser bundle`);
    if (!store || !(await store.built())) {
      throw new HttpError(404, 'the browser bundle is not built on this server: run `npm run build:browser` (npm start does it)');
    }
    const found = await store.get(file);
    if (!found) throw new HttpError(404, `no such file "${file}" in the browser bundle`);
    const headers = { ...ASSET_HEADERS, 'Content-Type': CONTENT_TYPES[ext], ETag: found.etag };
    if (noneMatchHits(c.req.header('if-none-match'), found.etag) || c.req.method === 'HEAD') {
      await found.body.cancel();
      return c.body(null, c.req.method === 'HEAD' ? 200 : 304, c.req.method === 'HEAD' ? { ...headers, 'Content-Length': String(found.size) } : headers);
    }
    return c.body(found.body, 200, { ...headers, 'Content-Length': String(found.size) });
  };
}
