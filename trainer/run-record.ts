// A run folder's own record (run.json): what the run was asked to do, so
// `--resume`, `encode` and `export` need no repeats.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
  let record: RunRecord;
  try {
    record = JSON.parse(text) as RunRecord;
  } catch (e) {
    throw new ConfigError(path, `not valid JSON (${(e as Error).message})`);
  }
  // Runs recorded before the spread split held out a one-volume class's last slices: a resume keeps them.
  if (record.config && record.config.heldOut === undefined) record.config.heldOut = 'tail';
  return record;
}
