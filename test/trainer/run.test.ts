// The run loop (trainer/run.ts) over a job that counts: what it logs,
// validates, previews and saves at which steps, that a resumed run drops the
// metrics rows its checkpoint does not hold, and that the signal saves and
// stops. The real trainers' jobs run through it in trainer.test.ts and
// vqgan/job.test.ts.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckpoint, runTraining, type RunPlan, type TrainingJob } from '../../trainer/run.ts';

/** A job whose state is its step, saved as a one-file checkpoint. */
function countingJob(plan: Partial<RunPlan>, from = 0, opts: { held?: boolean; preview?: boolean } = {}) {
  const calls = { validate: [] as number[], preview: [] as number[], save: [] as number[] };
  let step = from;
  const job: TrainingJob<{ step: number; value: number }> = {
    get step() {
      return step;
    },
    plan: { steps: 6, logEvery: 1, validateEvery: 0, checkpointEvery: 0, previewEvery: 0, ...plan },
    trainStep: () => {
      step++;
      return { metrics: { step, value: step * 10 }, loss: 1 / step };
    },
    validate: opts.held === false ? undefined : () => (calls.validate.push(step), { validation: { score: step }, line: `score ${step}` }),
    preview: opts.preview ? async () => (calls.preview.push(step), Uint8Array.of(step)) : undefined,
    save: async () => (calls.save.push(step), new Map([['manifest.json', new TextEncoder().encode(JSON.stringify({ step }))]])),
  };
  return { job, calls };
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medsynth-run-loop-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const rows = async (dir: string) => (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);

describe('runTraining', () => {
  it('logs, validates, previews and saves on their cadence, and always at the last step', async () => {
    const dir = join(root, 'cadence');
    const { job, calls } = countingJob({ steps: 7, logEvery: 3, validateEvery: 2, checkpointEvery: 4, previewEvery: 5 }, 0, { preview: true });
    const seen: number[] = [];
    const logged: string[] = [];
    expect(await runTraining(job, dir, { onStep: (m) => seen.push(m.step, m.loss), log: (l) => logged.push(l) })).toEqual({ interrupted: false });
    expect(seen).toEqual([1, 1, 2, 1 / 2, 3, 1 / 3, 4, 1 / 4, 5, 1 / 5, 6, 1 / 6, 7, 1 / 7]);
    const r = await rows(dir);
    expect(r.filter((x) => x.value !== undefined).map((x) => [x.step, x.value])).toEqual([[3, 30], [6, 60], [7, 70]]);
    expect(r.every((x) => typeof x.time === 'string' && typeof x.stepsPerSec !== 'string')).toBe(true);
    expect(r.filter((x) => x.validation).map((x) => [x.step, x.validation.score])).toEqual([[2, 2], [4, 4], [6, 6], [7, 7]]);
    expect(calls.validate).toEqual([2, 4, 6, 7]);
    expect(calls.preview).toEqual([5]);
    expect(calls.save).toEqual([4, 7]);
    expect(await readdir(join(dir, 'previews'))).toEqual(['step-000005.png']);
    expect([...(await readFile(join(dir, 'previews', 'step-000005.png')))]).toEqual([5]);
    expect(JSON.parse(new TextDecoder().decode(await runCheckpoint(dir).read('manifest.json')))).toEqual({ step: 7 });
    expect(logged).toContain('step 4: score 4');
    expect(logged).toContain('step 7: checkpoint saved');
  });

  it('writes no validation rows without held-out data and no previews folder for a job that draws none', async () => {
    const dir = join(root, 'bare');
    const { job, calls } = countingJob({ steps: 2, validateEvery: 1 }, 0, { held: false });
    await runTraining(job, dir);
    expect((await rows(dir)).some((x) => x.validation)).toBe(false);
    expect(calls.save).toEqual([2]);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint', 'metrics.jsonl']);
  });

  it('resuming from an older checkpoint drops the rows past its step (and a row cut short), so each step is logged once', async () => {
    const dir = join(root, 'resume');
    await runTraining(countingJob({ steps: 5 }).job, dir);
    await writeFile(join(dir, 'metrics.jsonl'), `${await readFile(join(dir, 'metrics.jsonl'), 'utf8')}{"step": 6, "val`);
    const logged: string[] = [];
    await runTraining(countingJob({ steps: 6 }, 3).job, dir, { log: (l) => logged.push(l) });
    expect((await rows(dir)).filter((x) => x.value !== undefined).map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // Steps 4 and 5, step 5's validation, and the cut row.
    expect(logged[0]).toBe('metrics: dropped 4 rows past step 3 (steps the checkpoint does not hold)');
  });

  it('saves and returns at the first step boundary after the signal', async () => {
    const dir = join(root, 'stop');
    const ctrl = new AbortController();
    const { job, calls } = countingJob({ steps: 100, checkpointEvery: 50 });
    expect(await runTraining(job, dir, { signal: ctrl.signal, onStep: (m) => m.step === 3 && ctrl.abort() })).toEqual({ interrupted: true });
    expect(job.step).toBe(3);
    expect(calls.save).toEqual([3]);
    // A run already at its last step only saves.
    const done = countingJob({ steps: 3 }, 3);
    expect(await runTraining(done.job, dir)).toEqual({ interrupted: false });
    expect(done.calls.save).toEqual([3]);
  });
});
