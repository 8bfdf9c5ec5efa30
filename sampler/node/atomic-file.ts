// Whole-file writes that readers see complete or not at all: a temp file in
// the same folder, then a rename over the target (atomic on one filesystem).
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path) || '.', { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {}); // never leave a partial file behind
    throw e;
  }
}
