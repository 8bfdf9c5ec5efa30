// Where checkpoints live, seen by the app: a folder on disk (Node) or an R2
// bucket (Workers). Keys are `<model id>/<file>`; both parts are validated
// here, once, before any storage sees them, so no path ever escapes a model.
import { MANIFEST_FILE, SHARD_FILE_RE } from '../shared/checkpoint/manifest.ts';

/**
 * Lowercase, starting with a letter or digit, at most 64 characters, no
 * separators: a plain folder name (never "." or "..") and a safe R2 prefix.
 */
export const MODEL_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function isModelId(id: string): boolean {
  return MODEL_ID_RE.test(id);
}

/** The only files the server hands out: a checkpoint's manifest and its shards. */
export function isCheckpointFile(file: string): boolean {
  return file === MANIFEST_FILE || SHARD_FILE_RE.test(file);
}

/** A byte range already checked against the file's size: 0 <= offset, offset + length <= size. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface StoredFile {
  /** Size of the whole file. */
  size: number;
  /** Strong entity tag, quoted: `"sha256-<hex>"` (folders) or R2's httpEtag. */
  etag: string;
  /** The requested bytes, streamed; absent for a head, or when If-None-Match matched. */
  body?: ReadableStream<Uint8Array>;
}

export interface GetOptions {
  range?: ByteRange;
  /** The If-None-Match header: when it matches, the result has no body (the client's copy is current). */
  ifNoneMatch?: string;
}

export interface ModelStorage {
  /** Ids of the models present, sorted; may include ids without a manifest.json, which the app drops. */
  listModels(): Promise<string[]>;
  /** Size and ETag without the bytes; undefined when the file does not exist. */
  head(id: string, file: string): Promise<StoredFile | undefined>;
  /** The file (or `range` of it), streamed; undefined when it does not exist. */
  get(id: string, file: string, opts?: GetOptions): Promise<StoredFile | undefined>;
}
