// GET/HEAD /v1/models/:id/:file — a checkpoint's manifest.json and shards,
// streamed from storage with a strong ETag, 304 on If-None-Match, 206 on
// Range, and cache headers: shards are immutable, the manifest revalidates
// (a model republished under the same id changes its manifest first).
import type { Context } from 'hono';
import { MANIFEST_FILE } from '../../shared/checkpoint/manifest.ts';
import { errorBody, HttpError } from '../errors.ts';
import { ifRangeHolds, noneMatchHits, parseRange, resolveRange } from '../http/conditional.ts';
import { isCheckpointFile, isModelId, type ModelStorage, type StoredFile } from '../storage.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'public, no-cache';

/** Validates the id and file name; returns them or throws 400/404. */
function checkpointKey(c: Context): { id: string; file: string } {
  const id = c.req.param('id') ?? '';
  const file = c.req.param('file') ?? '';
  if (!isModelId(id)) throw new HttpError(400, 'invalid model id: expected 1-64 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit');
  if (!isCheckpointFile(file)) throw new HttpError(404, `no such file "${file.slice(0, 80)}": models serve ${MANIFEST_FILE} and weights-NNNNN.msgpack`);
  return { id, file };
}

function fileHeaders(file: string, info: StoredFile): Record<string, string> {
  return {
    ETag: info.etag,
    'Cache-Control': file === MANIFEST_FILE ? REVALIDATE : IMMUTABLE,
    'Accept-Ranges': 'bytes',
    'Content-Type': file === MANIFEST_FILE ? 'application/json; charset=utf-8' : 'application/octet-stream',
  };
}

export function fileRoute(storage: ModelStorage) {
  return async (c: Context): Promise<Response> => {
    const { id, file } = checkpointKey(c);
    const missing = () => new HttpError(404, `not found: ${id}/${file}`);
    const ifNoneMatch = c.req.header('if-none-match');
    const range = parseRange(c.req.header('range'));

    // HEAD and ranges need the size and ETag before any bytes are asked for.
    if (c.req.method === 'HEAD' || range) {
      const info = await storage.head(id, file);
      if (!info) throw missing();
      const headers = fileHeaders(file, info);
      if (noneMatchHits(ifNoneMatch, info.etag)) return c.body(null, 304, headers);
      if (c.req.method === 'HEAD') return c.body(null, 200, { ...headers, 'Content-Length': String(info.size) });
      if (range && ifRangeHolds(c.req.header('if-range'), info.etag)) {
        const slice = resolveRange(range, info.size);
        if (!slice) {
          return c.json(errorBody(`range not satisfiable: ${id}/${file} has ${info.size} bytes`), 416, {
            ...headers,
            'Content-Range': `bytes */${info.size}`,
          });
        }
        const part = await storage.get(id, file, { range: slice });
        if (!part?.body) throw missing();
        return c.body(part.body, 206, {
          ...headers,
          'Content-Length': String(slice.length),
          'Content-Range': `bytes ${slice.offset}-${slice.offset + slice.length - 1}/${info.size}`,
        });
      }
    }

    const whole = await storage.get(id, file, { ifNoneMatch });
    if (!whole) throw missing();
    const headers = fileHeaders(file, whole);
    if (!whole.body) return c.body(null, 304, headers);
    return c.body(whole.body, 200, { ...headers, 'Content-Length': String(whole.size) });
  };
}
