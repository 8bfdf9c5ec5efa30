// A checkpoint folder on the local disk, read in chunks so progress can be
// reported and oversize files are refused before they are buffered.
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointError, oversizeError } from '../../shared/checkpoint/errors.ts';
import { fileNameProblem } from '../../shared/checkpoint/types.ts';
import type { CheckpointSource } from '../../shared/checkpoint/types.ts';

const CHUNK_BYTES = 1 << 20;

export function folderSource(dir: string): CheckpointSource {
  const root = resolve(dir);
  return {
    location: root,
    async read(file, onBytes, maxBytes) {
      const problem = fileNameProblem(file);
      if (problem) throw new CheckpointError(`${root}/${String(file)}`, problem);
      const path = join(root, file);
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') throw new CheckpointError(path, 'file not found', { missing: true, cause: e });
        throw new CheckpointError(path, `cannot open: ${(e as Error).message}`, { cause: e });
      }
      let callbackFailed = false;
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new CheckpointError(path, 'not a regular file');
        if (maxBytes !== undefined && st.size > maxBytes) {
          throw oversizeError(path, st.size, maxBytes);
        }
        const out = new Uint8Array(st.size);
        let offset = 0;
        while (offset < out.length) {
          const { bytesRead } = await fh.read(out, offset, Math.min(CHUNK_BYTES, out.length - offset), offset);
          if (bytesRead === 0) break; // shrank while reading: the caller sees a short file
          offset += bytesRead;
          try {
            onBytes?.(offset);
          } catch (e) {
            callbackFailed = true;
            throw e;
          }
        }
        return offset === out.length ? out : out.subarray(0, offset);
      } catch (e) {
        if (e instanceof CheckpointError || callbackFailed) throw e;
        throw new CheckpointError(path, `cannot read: ${(e as Error).message}`, { cause: e });
      } finally {
        await fh.close();
      }
    },
  };
}
