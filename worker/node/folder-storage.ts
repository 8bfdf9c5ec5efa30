// ModelStorage over a local folder of checkpoint folders: each subfolder
// with a manifest.json is a model, its name the model id. Files are streamed
// in chunks from one open handle (size, ETag and bytes all from the same
// file, even if it is replaced meanwhile), never read whole.
import { createHash } from 'node:crypto';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MANIFEST_FILE } from '../../shared/checkpoint/manifest.ts';
import { noneMatchHits } from '../http/conditional.ts';
import { isCheckpointFile, isModelId, type ByteRange, type GetOptions, type ModelStorage, type StoredFile } from '../storage.ts';

const CHUNK_BYTES = 256 * 1024;
const MAX_CACHED_ETAGS = 1024;
/** writeCheckpointFolder's transient siblings (`<id>.tmp-<hex>`, `<id>.old-<hex>`) are not models. */
const TRANSIENT_RE = /\.(tmp|old)-[0-9a-f]{12}$/;

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Streams `range` of an open file, closing the handle at the end, on error or on cancel. */
function streamFile(fh: FileHandle, { offset, length }: ByteRange): ReadableStream<Uint8Array> {
  let pos = offset;
  const end = offset + length;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (pos >= end) {
            await close();
            return controller.close();
          }
          const chunk = new Uint8Array(Math.min(CHUNK_BYTES, end - pos));
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
          if (bytesRead === 0) throw new Error('the file shrank while it was being sent');
          pos += bytesRead;
          controller.enqueue(chunk.subarray(0, bytesRead));
        } catch (e) {
          await close().catch(() => {});
          controller.error(e);
        }
      },
      cancel: close,
    },
    { highWaterMark: 0 }, // read on demand: a slow client holds one chunk, not the file
  );
}

export function folderStorage(dir: string): ModelStorage {
  const root = resolve(dir);
  // sha256 per file version (device, inode, size, mtime): hashed once, then a strong ETag for free.
  const etags = new Map<string, Promise<string>>();

  async function etagOf(fh: FileHandle, key: string, size: number): Promise<string> {
    let etag = etags.get(key);
    if (!etag) {
      etag = (async () => {
        const hash = createHash('sha256');
        const buf = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(size, 1)));
        for (let pos = 0; pos < size; ) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
          if (bytesRead === 0) throw new Error('the file shrank while it was being hashed');
          hash.update(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
        return `"sha256-${hash.digest('hex')}"`;
      })();
      etags.set(key, etag);
      etag.catch(() => etags.delete(key));
      if (etags.size > MAX_CACHED_ETAGS) etags.delete(etags.keys().next().value!);
    }
    return etag;
  }

  /** The open file with its size and ETag; undefined when absent. The caller closes the handle. */
  async function openFile(id: string, file: string): Promise<{ fh: FileHandle; size: number; etag: string } | undefined> {
    // The app validated both already; checked again because this is what touches the disk.
    if (!isModelId(id) || !isCheckpointFile(file)) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(join(root, id, file), 'r');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        return undefined;
      }
      const etag = await etagOf(fh, `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`, st.size);
      return { fh, size: st.size, etag };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  return {
    async listModels() {
      const entries = await readdir(root, { withFileTypes: true });
      const ids: string[] = [];
      for (const entry of entries) {
        if (!isModelId(entry.name) || TRANSIENT_RE.test(entry.name)) continue;
        try {
          if ((await stat(join(root, entry.name, MANIFEST_FILE))).isFile()) ids.push(entry.name);
        } catch (e) {
          if (!isMissing(e)) throw e;
        }
      }
      return ids.sort();
    },

    async head(id, file) {
      const f = await openFile(id, file);
      if (!f) return undefined;
      await f.fh.close();
      return { size: f.size, etag: f.etag };
    },

    async get(id, file, opts: GetOptions = {}): Promise<StoredFile | undefined> {
      const f = await openFile(id, file);
      if (!f) return undefined;
      const { fh, size, etag } = f;
      if (noneMatchHits(opts.ifNoneMatch, etag)) {
        await fh.close();
        return { size, etag };
      }
      return { size, etag, body: streamFile(fh, opts.range ?? { offset: 0, length: size }) };
    },
  };
}
