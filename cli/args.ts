// What the subcommands share: number options, progress bars, and training
// runs that stop cleanly on Ctrl-C / SIGTERM. Bad values are BadInputErrors (exit 2).
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { BadInputError, CancelledError } from '../shared/errors.ts';
import type { OnBadFile } from '../trainer/data/index.ts';
import { runTraining, type TrainingJob } from '../trainer/run.ts';

/** A non-negative integer option, or undefined when absent. */
export function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new BadInputError(`--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

/** The parseArgs options for `--threads N` and its former name `--workers`, which still works. */
export const THREAD_FLAGS = { threads: { type: 'string' }, workers: { type: 'string' } } as const;

/** The `--threads` text (or the old `--workers`, noted on the log); both at once is an error. */
export function threadsFlag(values: { threads?: string; workers?: string }, log: (line: string) => void): string | undefined {
  if (values.workers === undefined) return values.threads;
  if (values.threads !== undefined) throw new BadInputError('--workers is the old name of --threads: give one of them');
  log('note: --workers is now --threads (the old name still works)');
  return values.workers;
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

/** What every kind of training run is told by `medsynth train`. */
export interface TrainCommandOptions {
  /** Continue the run in `out` (its run.json is `record`); `sets` are its train.* overrides. */
  resume: boolean;
  sets: string[];
  onBadFile: OnBadFile;
  quiet?: boolean;
  log: (line: string) => void;
}

/** What `train --json` prints once a run, of either kind, reaches its last step. */
export interface TrainSummary {
  run: string;
  kind: string;
  name: string;
  steps: number;
}

/**
 * Runs a training job (trainer/run.ts) into `out` with a progress bar on a
 * terminal (none with --quiet or when stderr is not a TTY), Ctrl-C / SIGTERM
 * saving the state and stopping it. A stopped run throws a CancelledError
 * (exit 130), so `train && export` never exports an unfinished run.
 */
export async function runTrainingJob<M extends { step: number }>(job: TrainingJob<M>, out: string, opts: { quiet?: boolean; label: string; log: (line: string) => void }): Promise<void> {
  const bar =
    opts.quiet || !process.stderr.isTTY
      ? undefined
      : new cliProgress.SingleBar(
          { stream: process.stderr, format: `${opts.label} [{bar}] {value}/{total} steps | loss {loss} | {rate} steps/s | {eta_formatted} left`, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  bar?.start(job.plan.steps, job.step, { loss: '-', rate: '-' });
  try {
    const onStep = (m: { step: number; loss: number; stepsPerSec: number }) => bar?.update(m.step, { loss: m.loss.toFixed(4), rate: m.stepsPerSec.toFixed(2) });
    const { interrupted } = await runTraining(job, out, { signal: ctrl.signal, log: opts.log, onStep });
    if (interrupted) throw new CancelledError(`stopped at step ${job.step} (checkpoint saved); continue with --resume`);
  } finally {
    bar?.stop();
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
