// The real `medsynth` process (bin/medsynth.js), for tests of exit codes,
// signals and kills: waits for the exit itself, never for a fixed time.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'medsynth.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `onLine` sees each stdout line and may signal the child. */
export function medsynth(args: string[], opts: { env?: Record<string, string>; onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) opts.onLine?.(line, (s) => child.kill(s));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The CLI in this process (main(argv, log, err)): its exit code and the lines it printed. */
export async function cli(...argv: string[]): Promise<{ code: number; log: string[]; err: string[] }> {
  const { main } = await import('../../cli/main.ts');
  const log: string[] = [];
  const err: string[] = [];
  const code = await main(argv, (s) => log.push(s), (s) => err.push(s));
  return { code, log, err };
}
