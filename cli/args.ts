// What the subcommands share: number options, progress bars, and stopping
// cleanly on Ctrl-C / SIGTERM. Bad values are BadInputErrors (exit 2).
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { BadInputError } from '../shared/errors.ts';

/** A non-negative integer option, or undefined when absent. */
export function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new BadInputError(`--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

/** A finite number option, or undefined when absent. */
export function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new BadInputError(`--${name} must be a number, got "${v}"`);
  return n;
}

/** Runs `f`, turning any error it throws into a BadInputError prefixed with `what`. */
export function asBadInput<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new BadInputError(`${what}${(e as Error).message}`, { cause: e });
  }
}

/** A progress bar on a terminal (none with --quiet or when stderr is not a TTY). */
export function progressBar(quiet: boolean, label: string) {
  if (quiet || !process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} {unit} | {eta_formatted} left`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
}

/** A training progress bar on a terminal (none with --quiet or when stderr is not a TTY). */
export function trainingBar(quiet: boolean | undefined, label: string) {
  if (quiet || !process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} steps | loss {loss} | {rate} steps/s | {eta_formatted} left`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
}

/** Runs `f` with a signal that Ctrl-C / SIGTERM abort (the run loops save and return). */
export async function withStopSignal<T>(f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await f(ctrl.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/**
 * Checks before any work that `--out <file>` can be written: not an existing
 * folder, and the nearest existing folder above it (missing ones are created
 * on writing) is a writable folder. Throws a BadInputError naming the path,
 * so a long run never fails at its last step.
 */
export async function checkOutputFile(out: string): Promise<void> {
  const path = resolve(out);
  if ((await stat(path).catch(() => undefined))?.isDirectory()) throw new BadInputError(`--out ${out}: is a folder; give a file name`);
  await checkWritableAbove(out, dirname(path));
}

/** As checkOutputFile, for `--out <folder>`: an existing path must be a writable folder. */
export async function checkOutputFolder(out: string): Promise<void> {
  await checkWritableAbove(out, resolve(out));
}

/** The nearest existing path at or above `folder` must be a writable folder. */
async function checkWritableAbove(out: string, folder: string): Promise<void> {
  let st = await stat(folder).catch(() => undefined);
  while (!st && dirname(folder) !== folder) {
    folder = dirname(folder);
    st = await stat(folder).catch(() => undefined);
  }
  if (!st?.isDirectory()) throw new BadInputError(`--out ${out}: ${folder} is not a folder`);
  await access(folder, constants.W_OK).catch(() => {
    throw new BadInputError(`--out ${out}: the folder ${folder} is not writable`);
  });
}

/** Writes `bytes` to stdout (for `--out -`); resolves once they are handed to the OS. */
export function writeStdout(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(e) : resolve())));
}
