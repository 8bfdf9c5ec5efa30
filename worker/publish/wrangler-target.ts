// Uploads into the local R2 bucket that `wrangler dev` serves, through the
// project's own wrangler (`r2 object put --local`), run without a shell and
// bounded in time. The bytes go through stdin (--pipe), so the manifest is
// exactly the one that was verified. wrangler's put has no checksum option:
// integrity rests on the sha256 each reader checks when it loads a shard.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PROJECT_ROOT, WRANGLER_ENV, wranglerBin } from '../bundle.ts';
import type { PublishTarget } from './target.ts';
import type { PublishObject } from './verify.ts';

export interface WranglerOptions {
  bucket: string;
  /** wrangler's --persist-to; default: wrangler's own (.wrangler/state in the project root, where `wrangler dev` looks). */
  persistTo?: string;
  /** Per object: wrangler starts a local workerd for each put. */
  timeoutMs?: number;
}

/**
 * An error message for a failed run: wrangler's [ERROR] line first (the CLI
 * prints only the first line; --verbose adds the rest), then its whole output,
 * uncoloured (wrangler colours it even into a pipe).
 */
function failure(what: string, log: string): Error {
  const plain = log.replace(/\x1b\[[0-9;]*m/g, '').trim();
  const reason = /\[ERROR\]\s*(.+)/.exec(plain)?.[1];
  return new Error(`${what}${reason ? `: ${reason}` : ''}\n${plain}`);
}

/** `wrangler r2 object put <objectPath> --pipe <flags>` with `obj`'s bytes on stdin; rejects with its output on failure or timeout. */
async function wranglerPut(objectPath: string, flags: string[], obj: PublishObject, timeoutMs: number): Promise<void> {
  const args = [wranglerBin(), 'r2', 'object', 'put', objectPath, '--pipe', ...flags];
  // Its own process group, so stopping it also stops the workerd it spawned.
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: WRANGLER_ENV, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((done, fail) => {
    child.on('error', fail);
    child.on('close', done);
  });
  let stopped: Error | undefined;
  const stop = (why: Error) => {
    stopped ??= why;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const timer = setTimeout(() => stop(failure(`wrangler r2 object put ${objectPath} timed out after ${timeoutMs} ms`, log)), timeoutMs);
  const fed = obj
    .open()
    .then((data) => pipeline(data, child.stdin))
    // EPIPE: wrangler quit before reading everything, and its exit status says why. Anything else (the file) stops it.
    .catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') stop(e);
    });
  try {
    const [code] = await Promise.all([exited, fed]);
    if (stopped) throw stopped;
    if (code !== 0) throw failure(`wrangler r2 object put ${objectPath} failed (exit ${code})`, log);
  } finally {
    clearTimeout(timer);
  }
}

export function wranglerTarget(opts: WranglerOptions): PublishTarget {
  const { timeoutMs = 60_000 } = opts;
  // wrangler runs in the project root: a relative --persist-to means the caller's directory.
  const persist = opts.persistTo === undefined ? [] : ['--persist-to', resolve(opts.persistTo)];
  return {
    where: `local R2 bucket ${opts.bucket}${opts.persistTo === undefined ? '' : ` in ${resolve(opts.persistTo)}`}`,
    put: (key, obj) => wranglerPut(`${opts.bucket}/${key}`, ['--local', ...persist, '--content-type', obj.contentType], obj, timeoutMs),
  };
}
