// Writes a checkpoint folder crash-safely: readers see the old checkpoint or
// the complete new one, never a mix or a partial write, and a kill at any
// instant of a write leaves a state recoverCheckpointFolder restores.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
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

/** The sibling folders a write leaves while it runs: `${dir}.tmp-<hex>` (new) and `${dir}.old-<hex>` (the replaced one). */
const SIBLING_RE = /^(.*)\.(tmp|old)-[0-9a-f]{12}$/;

/** A write's folder is complete once its manifest.json exists: it is renamed in last, after every file is fsynced. */
async function complete(folder: string): Promise<boolean> {
  return exists(join(folder, MANIFEST_FILE));
}

/**
 * Puts `dir` back after a kill mid-write, and removes what earlier writes
 * left. A write is killed at one of these instants:
 *   - while filling its tmp folder: `dir` is intact; the tmp folder is stale;
 *   - between moving `dir` aside and moving the tmp folder in: `dir` is
 *     absent, the old folder and the complete tmp folder remain: the tmp one
 *     (newer) becomes `dir`;
 *   - after the switch: the old folder is stale.
 * One writer per folder is assumed (a training run owns its checkpoint).
 * Returns what it did, for the log.
 */
export async function recoverCheckpointFolder(dir: string): Promise<string[]> {
  const target = resolve(dir);
  const parent = dirname(target);
  const base = target.slice(parent.length + 1);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const siblings = names.filter((n) => SIBLING_RE.exec(n)?.[1] === base).map((n) => join(parent, n));
  const done: string[] = [];
  if (!(await exists(target))) {
    // Newest complete state first: a finished tmp folder, else the folder that was moved aside.
    const candidates = [...siblings.filter((f) => f.includes('.tmp-')), ...siblings.filter((f) => f.includes('.old-'))];
    for (const f of candidates) {
      if (await complete(f)) {
        await rename(f, target);
        await syncDir(parent);
        done.push(`recovered ${target} from ${f} (a write was interrupted)`);
        break;
      }
    }
  }
  for (const f of siblings) {
    if (await exists(f)) {
      await rm(f, { recursive: true, force: true });
      done.push(`removed ${f} (left by an interrupted write)`);
    }
  }
  return done;
}

/**
 * Writes `files` (name -> bytes, e.g. encodeCheckpoint's output) as the folder
 * `dir`, replacing any checkpoint there, so that a kill at any instant leaves
 * either the old checkpoint or the new one (recoverCheckpointFolder finds it).
 * Files go to a temporary sibling `${dir}.tmp-<random>`, each fsynced, the
 * manifest renamed in last; then the old folder is moved aside, the new one
 * moved in, and the old one removed. On failure the temporary folder is
 * removed and `dir` is untouched.
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
  await recoverCheckpointFolder(target);
  if (await exists(target)) {
    if (!(await stat(target)).isDirectory()) throw new CheckpointError(target, 'cannot write: exists and is not a folder');
  }

  const suffix = randomBytes(6).toString('hex');
  const tmp = `${target}.tmp-${suffix}`;
  await mkdir(tmp);
  try {
    const write = async (path: string, bytes: Uint8Array) => {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
    };
    for (const name of [...files.keys()].filter((n) => n !== MANIFEST_FILE).sort()) await write(join(tmp, name), files.get(name)!);
    // The manifest appears whole or not at all: the tmp folder counts as complete only once it does.
    await write(join(tmp, `${MANIFEST_FILE}.part`), files.get(MANIFEST_FILE)!);
    await rename(join(tmp, `${MANIFEST_FILE}.part`), join(tmp, MANIFEST_FILE));
    await syncDir(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }

  // Directories cannot be swapped atomically in portable Node: move the old one
  // aside, move the new one in, then delete the old. `dir` is briefly absent,
  // never partial; a kill in that moment is what recoverCheckpointFolder repairs.
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
