// A real training process killed (SIGKILL) at many instants, most of them
// inside a checkpoint write (one every step here), resumes every time, and
// finishes with one metrics row per step and nothing left beside the checkpoint.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { medsynth, ROOT } from '../helpers/cli-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'medsynth-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { MEDSYNTH_CACHE_DIR: join(dir, 'cache') };
const DATA = join(ROOT, 'test', 'fixtures', 'nifti', 'ch2bet-24x28x20-uint8.nii.gz');
const STEPS = 24;

describe('train survives SIGKILL at any instant', () => {
  it('resumes after every kill and ends with the whole run', async () => {
    const out = join(dir, 'run');
    const common = ['--quiet', '--backend', 'cpu', '--set', 'train.checkpointEvery=1', '--set', 'train.logEvery=1', '--set', 'train.validateEvery=0'];
    // Kills land a growing number of microtasks after a save was announced: the next save is in flight
    // for most of each step (writing the optimiser state dominates a tiny model's step).
    const delays = [0, 2, 5, 9, 14, 20];
    let killed = 0;
    for (const [i, delay] of delays.entries()) {
      const first = i === 0;
      let saves = 0;
      const r = await medsynth(
        first ? ['train', '--config', 'tiny-mri-2d-16', '--data', DATA, '--out', out, '--steps', String(STEPS), ...common] : ['train', '--resume', '--out', out, ...common],
        {
          env,
          onLine: (line, kill) => {
            if (/checkpoint saved/.test(line) && ++saves === 2) setTimeout(() => kill('SIGKILL'), delay);
          },
        },
      );
      if (r.signal === 'SIGKILL') killed++;
      else expect(r.code, r.stderr).toBe(0); // finished before the kill landed
      if (r.code === 0) break;
    }
    expect(killed).toBeGreaterThanOrEqual(4);
    const last = await medsynth(['train', '--resume', '--out', out, ...common], { env });
    // The run may already be complete; resuming a complete run is a no-op that still exits 0.
    expect(last.code, last.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'metrics.jsonl', 'previews', 'run.json']);
    // One training row per step (validation rows, at the last step here, are rows of their own kind).
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; validation?: unknown });
    const steps = rows.filter((r) => r.validation === undefined).map((r) => r.step);
    expect(steps.filter((s, i) => steps.indexOf(s) !== i)).toEqual([]);
    expect(steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  });
});
