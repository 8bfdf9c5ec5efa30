// A training run on disk, for every objective alike (diffusion:
// diffusion-job.ts; VQ-GAN: vqgan/job.ts): the loop around a job's trainStep
// with metrics, validation, previews and atomic checkpoints, stopping cleanly
// on a signal.
//
//   <run>/run.json         what was asked (written by the CLI)
//   <run>/checkpoint/      the whole training state (the job's save), replaced atomically
//   <run>/metrics.jsonl    one JSON object per logged step or validation
//   <run>/previews/        step-000200.png: samples from the EMA weights (jobs that draw them)
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { writeCheckpointFolder } from '../sampler/node/checkpoint-folder.ts';
import { folderSource } from '../sampler/node/folder-source.ts';

export const RUN_FILES = { checkpoint: 'checkpoint', metrics: 'metrics.jsonl', previews: 'previews' } as const;

/** How often the loop logs, validates, previews and saves (every N steps; 0 = never, but the last step always logs, validates and saves). */
export interface RunPlan {
  steps: number;
  logEvery: number;
  validateEvery: number;
  checkpointEvery: number;
  previewEvery: number;
}

/** One objective's training as the loop drives it: its trainer seen through its data. */
export interface TrainingJob<M extends { step: number } = { step: number }> {
  /** Steps taken so far (a resumed run's checkpoint's). */
  readonly step: number;
  readonly plan: RunPlan;
  /** One optimiser step: the row for metrics.jsonl, and the loss a progress bar shows. */
  trainStep(): { metrics: M; loss: number } | Promise<{ metrics: M; loss: number }>;
  /** Held-out figures for metrics.jsonl and the console line reporting them; absent when nothing is held out. */
  validate?(): { validation: object; line: string };
  /** A montage of samples (PNG bytes), for jobs that can draw them. */
  preview?(): Promise<Uint8Array>;
  /** The whole training state as checkpoint files. */
  save(): Promise<Map<string, Uint8Array>>;
}

export interface RunHooks<M> {
  /** After every step (progress bars). */
  onStep?: (m: M & { loss: number; stepsPerSec: number }) => void;
  /** Lines for the console (validation, checkpoints, previews). */
  log?: (line: string) => void;
  /** Checked between steps: on abort the state is saved and the run returns. */
  signal?: AbortSignal;
}

/** The training checkpoint of a run, loaded to continue or export. */
export function runCheckpoint(runDir: string) {
  return folderSource(join(runDir, RUN_FILES.checkpoint));
}

/**
 * Drops metrics rows past the checkpoint's step: a run that was killed or
 * restored from an older state repeats those steps, and each step is logged once.
 */
async function trimMetrics(metricsPath: string, step: number, log: (line: string) => void): Promise<void> {
  let text: string;
  try {
    text = await readFile(metricsPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((l) => {
    try {
      return !((JSON.parse(l) as { step?: number }).step! > step);
    } catch {
      return false; // a row cut short by a kill
    }
  });
  if (kept.length === lines.length) return;
  await writeFileAtomic(metricsPath, kept.map((l) => `${l}\n`).join(''));
  log(`metrics: dropped ${lines.length - kept.length} rows past step ${step} (steps the checkpoint does not hold)`);
}

/** Trains until job.plan.steps (continuing from job.step), then saves. Returns whether it stopped early on the signal. */
export async function runTraining<M extends { step: number }>(job: TrainingJob<M>, runDir: string, hooks: RunHooks<M> = {}): Promise<{ interrupted: boolean }> {
  const p = job.plan;
  const log = hooks.log ?? (() => {});
  const metricsPath = join(runDir, RUN_FILES.metrics);
  await mkdir(job.preview ? join(runDir, RUN_FILES.previews) : runDir, { recursive: true });
  await trimMetrics(metricsPath, job.step, log);
  // Rows stamped with the time; the state replaced atomically.
  const record = (obj: object) => appendFile(metricsPath, `${JSON.stringify({ time: new Date().toISOString(), ...obj })}\n`);
  const save = async () => {
    await writeCheckpointFolder(join(runDir, RUN_FILES.checkpoint), await job.save());
    log(`step ${job.step}: checkpoint saved`);
  };
  const every = (n: number) => n > 0 && job.step % n === 0;

  let windowStart = performance.now();
  let windowSteps = 0;
  while (job.step < p.steps) {
    if (hooks.signal?.aborted) {
      await save();
      return { interrupted: true };
    }
    const { metrics, loss } = await job.trainStep();
    windowSteps++;
    const stepsPerSec = (windowSteps * 1000) / (performance.now() - windowStart);
    hooks.onStep?.({ ...metrics, loss, stepsPerSec });
    const last = job.step === p.steps;
    if (every(p.logEvery) || last) {
      await record({ ...metrics, stepsPerSec });
      windowStart = performance.now();
      windowSteps = 0;
    }
    if (job.validate && (every(p.validateEvery) || last)) {
      const { validation, line } = job.validate();
      await record({ step: job.step, validation });
      log(`step ${job.step}: ${line}`);
    }
    if (job.preview && every(p.previewEvery)) {
      const path = join(runDir, RUN_FILES.previews, `step-${String(job.step).padStart(6, '0')}.png`);
      await writeFileAtomic(path, await job.preview());
      log(`step ${job.step}: preview ${path}`);
    }
    if (every(p.checkpointEvery)) await save();
    await new Promise((resolve) => setImmediate(resolve)); // let signal handlers run between steps
  }
  if (!every(p.checkpointEvery)) await save();
  return { interrupted: false };
}
