// What the training commands share: the run record (run.json), the progress
// bar, and stopping cleanly on Ctrl-C / SIGTERM.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { ConfigError } from '../shared/config.ts';
import type { RunConfig } from './run-config.ts';

/** The run's own record: what it was asked to do, so --resume needs no repeats. */
export const RUN_JSON = 'run.json';
export interface RunRecord {
  config: RunConfig;
  data: string[];
  /** Latent DDPM runs: the latents folder (absolute path) and the sha256 of its manifest.json. */
  latents?: { path: string; sha256: string };
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function readRunRecord(runDir: string): Promise<RunRecord> {
  const path = join(runDir, RUN_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, `cannot read the run record (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch (e) {
    throw new ConfigError(path, `not valid JSON (${(e as Error).message})`);
  }
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
