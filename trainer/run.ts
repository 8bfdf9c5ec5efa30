// A training run on disk: the loop around Trainer.trainStep with metrics,
// validation, previews and atomic checkpoints, stopping cleanly on a signal.
//
//   <run>/checkpoint/      the whole training state (Trainer.save), replaced atomically
//   <run>/metrics.jsonl    one JSON object per logged step or validation
//   <run>/previews/        step-000200.png: samples from the EMA weights
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { memorySource } from '../shared/checkpoint/index.ts';
import { encodeMontagePng } from '../sampler/encode/index.ts';
import { generate } from '../sampler/generate.ts';
import { loadModel } from '../sampler/load.ts';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { writeCheckpointFolder } from '../sampler/node/checkpoint-folder.ts';
import { folderSource } from '../sampler/node/folder-source.ts';
import { exportCheckpoint } from './export.ts';
import type { ExampleSet, StepMetrics, Trainer } from './trainer.ts';

export const RUN_FILES = { checkpoint: 'checkpoint', metrics: 'metrics.jsonl', previews: 'previews' } as const;

export interface RunHooks {
  /** After every step (progress bars). */
  onStep?: (m: StepMetrics & { stepsPerSec: number }) => void;
  /** Lines for the console (validation, checkpoints). */
  log?: (line: string) => void;
  /** Checked between steps: on abort the state is saved and the run returns. */
  signal?: AbortSignal;
}

/** The training checkpoint of a run, loaded to continue or export. */
export function runCheckpoint(runDir: string) {
  return folderSource(join(runDir, RUN_FILES.checkpoint));
}

/**
 * What every run loop writes (diffusion and VQ-GAN alike): metrics.jsonl lines
 * stamped with the time, and the whole training state to checkpoint/, atomically.
 * `start` drops metrics rows past the checkpoint's step: a run that was killed
 * or restored from an older state repeats those steps, and each step is logged once.
 */
export function runWriters(runDir: string, trainer: { step: number; save(): Promise<Map<string, Uint8Array>> }, log: (line: string) => void) {
  const metricsPath = join(runDir, RUN_FILES.metrics);
  return {
    start: async () => {
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
          return !((JSON.parse(l) as { step?: number }).step! > trainer.step);
        } catch {
          return false; // a row cut short by a kill
        }
      });
      if (kept.length === lines.length) return;
      await writeFileAtomic(metricsPath, kept.map((l) => `${l}\n`).join(''));
      log(`metrics: dropped ${lines.length - kept.length} rows past step ${trainer.step} (steps the checkpoint does not hold)`);
    },
    record: (obj: object) => appendFile(metricsPath, `${JSON.stringify({ time: new Date().toISOString(), ...obj })}\n`),
    save: async () => {
      await writeCheckpointFolder(join(runDir, RUN_FILES.checkpoint), await trainer.save());
      log(`step ${trainer.step}: checkpoint saved`);
    },
  };
}

/** Samples a few images with the EMA weights through the real export + load path (two per class when labelled). */
async function writePreview(trainer: Trainer, runDir: string): Promise<string> {
  const { files } = await exportCheckpoint(trainer.model, trainer.exportParams(), trainer.spec.meta, 'fp32');
  const model = await loadModel(memorySource(files, 'preview'));
  try {
    const labels = model.manifest.labels ?? [];
    const images = [];
    for (const label of labels) images.push(...(await generate(model, { count: 2, seed: 0, label })).images);
    if (!labels.length) images.push(...(await generate(model, { count: 4, seed: 0 })).images);
    const path = join(runDir, RUN_FILES.previews, `step-${String(trainer.step).padStart(6, '0')}.png`);
    await writeFileAtomic(path, encodeMontagePng(images));
    return path;
  } finally {
    model.dispose();
  }
}

/**
 * Trains until `trainer.config.steps` (continuing from trainer.step), then
 * saves. Returns whether it stopped early on the signal.
 */
export async function runTraining(trainer: Trainer, train: ExampleSet, validation: ExampleSet | undefined, runDir: string, hooks: RunHooks = {}): Promise<{ interrupted: boolean }> {
  const c = trainer.config;
  const log = hooks.log ?? (() => {});
  await mkdir(join(runDir, RUN_FILES.previews), { recursive: true });
  const { start, record, save } = runWriters(runDir, trainer, log);
  await start();
  const every = (n: number) => n > 0 && trainer.step % n === 0;

  let windowStart = performance.now();
  let windowSteps = 0;
  while (trainer.step < c.steps) {
    if (hooks.signal?.aborted) {
      await save();
      return { interrupted: true };
    }
    const m = trainer.trainStep(train);
    windowSteps++;
    const stepsPerSec = (windowSteps * 1000) / (performance.now() - windowStart);
    hooks.onStep?.({ ...m, stepsPerSec });
    if (every(c.logEvery) || trainer.step === c.steps) {
      await record({ ...m, stepsPerSec });
      windowStart = performance.now();
      windowSteps = 0;
    }
    if (validation && (every(c.validateEvery) || trainer.step === c.steps)) {
      const v = trainer.evaluate(validation);
      await record({ step: trainer.step, validation: v });
      log(`step ${trainer.step}: validation loss ${v.loss.toFixed(5)}${v.bpd !== undefined ? `, ${v.bpd.toFixed(3)} bits/dim` : ''}`);
    }
    if (every(c.previewEvery)) log(`step ${trainer.step}: preview ${await writePreview(trainer, runDir)}`);
    if (every(c.checkpointEvery)) await save();
    // Let signal handlers run between steps.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!every(c.checkpointEvery)) await save();
  return { interrupted: false };
}
