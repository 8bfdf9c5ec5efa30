// ModelStorage over an R2 bucket: keys `<id>/<file>`. Conditional and range
// reads happen inside R2 (onlyIf, range), bodies stream straight through,
// and the ETag is R2's own strong httpEtag.
import { isModelId, type GetOptions, type ModelStorage, type StoredFile } from './storage.ts';

/** The part of the Workers R2 binding used here (structurally a subset of @cloudflare/workers-types' R2Bucket). */
export interface R2BucketLike {
  head(key: string): Promise<R2ObjectLike | null>;
  get(key: string, options?: { range?: { offset: number; length: number }; onlyIf?: Headers }): Promise<R2ObjectLike | null>;
  list(options?: { delimiter?: string; cursor?: string }): Promise<{ delimitedPrefixes: string[]; truncated: boolean; cursor?: string }>;
}

export interface R2ObjectLike {
  size: number;
  httpEtag: string;
  /** Present when R2 returned the bytes (an R2ObjectBody): absent when an onlyIf condition failed. */
  body?: ReadableStream<Uint8Array>;
}

/** A bucket with more models than this many list pages is not a model store this app lists. */
const MAX_LIST_PAGES = 20;

export function r2Storage(bucket: R2BucketLike): ModelStorage {
  return {
    async listModels() {
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_LIST_PAGES; page++) {
        const res = await bucket.list({ delimiter: '/', cursor });
        for (const prefix of res.delimitedPrefixes) {
          const id = prefix.slice(0, -1);
          if (isModelId(id)) ids.push(id);
        }
        if (!res.truncated) break;
        cursor = res.cursor;
      }
      return ids.sort();
    },

    async head(id, file) {
      const obj = await bucket.head(`${id}/${file}`);
      return obj ? { size: obj.size, etag: obj.httpEtag } : undefined;
    },

    async get(id, file, opts: GetOptions = {}): Promise<StoredFile | undefined> {
      const obj = await bucket.get(`${id}/${file}`, {
        ...(opts.range ? { range: opts.range } : {}),
        // R2 evaluates If-None-Match itself and then returns the object without a body.
        ...(opts.ifNoneMatch ? { onlyIf: new Headers({ 'If-None-Match': opts.ifNoneMatch }) } : {}),
      });
      if (!obj) return undefined;
      return { size: obj.size, etag: obj.httpEtag, ...(obj.body ? { body: obj.body } : {}) };
    },
  };
}
