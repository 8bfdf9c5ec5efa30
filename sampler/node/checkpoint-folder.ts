// Writes a checkpoint folder atomically: readers see the old checkpoint or
// the complete new one, never a mix or a partial write.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CheckpointError } from '../../shared/checkpoint/errors.ts';
import { MANIFEST_FILE } from '../../shared/checkpoint/manifest.ts';
import { fileNameProblem } from '../../shared/checkpoint/types.ts';

/** fsync a directory so renames in it are durable; some platforms cannot, which is fine. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows cannot open directories for fsync.
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Writes `files` (name -> bytes, e.g. encodeCheckpoint's output) as the folder
 * `dir`, replacing any checkpoint there. Files go to a temporary sibling
 * `${dir}.tmp-<random>` (fsynced, manifest.json last), which is then renamed
 * into place; on failure the temporary folder is removed and `dir` is untouched.
 */
export async function writeCheckpointFolder(dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  const target = resolve(dir);
  for (const [name, bytes] of files) {
    const problem = fileNameProblem(name);
    if (problem) throw new CheckpointError(target, `cannot write: ${problem}`);
    if (!(bytes instanceof Uint8Array)) throw new CheckpointError(target, `cannot write ${name}: not a byte array`);
  }
  if (!files.has(MANIFEST_FILE)) throw new CheckpointError(target, `cannot write: no ${MANIFEST_FILE}`);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  if (await exists(target)) {
    if (!(await stat(target)).isDirectory()) throw new CheckpointError(target, 'cannot write: exists and is not a folder');
  }

  const suffix = randomBytes(6).toString('hex');
  const tmp = `${target}.tmp-${suffix}`;
  await mkdir(tmp);
  try {
    // The manifest goes last so even the temporary folder is never "complete" early.
    const names = [...files.keys()].filter((n) => n !== MANIFEST_FILE).sort();
    names.push(MANIFEST_FILE);
    for (const name of names) {
      const fh = await open(join(tmp, name), 'wx');
      try {
        await fh.writeFile(files.get(name)!);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await syncDir(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }

  // Directories cannot be swapped atomically in portable Node: move the old one
  // aside, move the new one in, then delete the old. `dir` is briefly absent,
  // never partial.
  const old = `${target}.old-${suffix}`;
  let movedAside = false;
  try {
    if (await exists(target)) {
      await rename(target, old);
      movedAside = true;
    }
    await rename(tmp, target);
  } catch (e) {
    if (movedAside && !(await exists(target))) await rename(old, target).catch(() => {});
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await syncDir(parent);
  if (movedAside) await rm(old, { recursive: true, force: true });
}
