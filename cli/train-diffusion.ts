// `medsynth train` for diffusion networks (DDPM 2D/3D, VDM) on --data, and
// for a latent DDPM on --latents: the data or latents, a Trainer (new,
// warm-started with --init, or resumed), and the one run loop. Called by
// cli/train.ts.
import { join, resolve } from 'node:path';
import { ConfigError } from '../shared/config.ts';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { folderSource } from '../sampler/node/folder-source.ts';
import { prepareTrainingData, type TrainingData } from '../trainer/dataset.ts';
import { diffusionJob } from '../trainer/diffusion-job.ts';
import { loadLatents, type Latents } from '../trainer/latent/latents.ts';
import { latentTrainSpec } from '../trainer/latent/train-spec.ts';
import { getPreset, LATENT_STAGE } from '../trainer/presets.ts';
import { applyOverrides, trainSettings, trainSpec } from '../trainer/run-config.ts';
import { RUN_JSON, type RunRecord } from '../trainer/run-record.ts';
import { runCheckpoint } from '../trainer/run.ts';
import { Trainer } from '../trainer/trainer.ts';
import { runTrainingJob, type TrainCommandOptions, type TrainSummary } from './args.ts';

/** Reads the latents folder a latent DDPM run trains on; with `expected`, it must be that exact folder (by hash). */
async function latentsFor(path: string, expected?: string): Promise<Latents> {
  const latents = await loadLatents(folderSource(path));
  if (expected && latents.hash !== expected) {
    throw new ConfigError('--latents', `${latents.location} is not the latents folder this run trained on (manifest sha256 ${latents.hash.slice(0, 12)}, expected ${expected.slice(0, 12)})`);
  }
  return latents;
}

/** `threads`: threads per step (Trainer.useThreads), at most one per example of a batch. */
export async function trainDiffusion(record: RunRecord, out: string, opts: TrainCommandOptions & { latents?: string; init?: string; threads?: number }): Promise<TrainSummary> {
  const { log } = opts;
  // A latent DDPM run reads its latents (on resume: the recorded folder, or where it moved, checked by hash).
  let latents: Latents | undefined;
  if (getPreset(record.config.preset).kind === LATENT_STAGE) {
    latents = await latentsFor(opts.latents ?? record.latents!.path, record.latents?.sha256);
    record.latents = { path: resolve(latents.location), sha256: latents.hash };
  }
  let trainer: Trainer | undefined;
  if (opts.resume) {
    const overrides = applyOverrides({}, opts.sets).train as Record<string, unknown> | undefined;
    trainer = await Trainer.load(runCheckpoint(out), overrides);
    log(`resuming ${out} at step ${trainer.step} of ${trainer.config.steps}`);
  }
  const data: Pick<TrainingData, 'train' | 'validation'> & Partial<TrainingData> = latents ?? (await prepareTrainingData(record.data, record.config, { onBadFile: opts.onBadFile, log }));
  if (!trainer) {
    // A new run: the data decides the labels, spacing and intensity mapping (or the latents their grid).
    let spec = trainSpec(record.config);
    if (latents) spec = latentTrainSpec(record.config, latents);
    else spec = { ...spec, model: { ...spec.model, ...data.model }, meta: { ...spec.meta, ...data.meta } };
    trainer = opts.init ? await Trainer.warmStart(spec, trainSettings(record.config), folderSource(opts.init), opts.init) : Trainer.create(spec, trainSettings(record.config));
    if (trainer.init) log(`warm start from ${trainer.init.from} ("${trainer.init.name}", ${trainer.init.steps} steps)`);
  }
  try {
    if (latents && trainer.config.previewEvery > 0) throw new ConfigError('train.previewEvery', 'a latent DDPM run writes no previews (set it to 0): export it and sample the checkpoint');
    // A new run's record; a resumed latent run's too, as its latents may have moved.
    if (!opts.resume || latents) await writeFileAtomic(join(out, RUN_JSON), `${JSON.stringify(record, null, 2)}\n`);
    const threads = Math.min(opts.threads ?? 1, trainer.config.batchSize);
    await trainer.useThreads(threads);
    const what = latents ? `latents of ${latents.location}` : 'examples';
    log(`training ${trainer.spec.kind} "${trainer.spec.meta.name}": ${data.train.size} ${what}, ${data.validation?.size ?? 0} held out, ${trainer.config.steps} steps, ${threads} thread${threads === 1 ? '' : 's'} per step`);
    await runTrainingJob(diffusionJob(trainer, data.train, data.validation), out, { quiet: opts.quiet, label: 'training', log });
    log(`done: ${trainer.step} steps; export with medsynth export ${out}`);
    return { run: out, kind: trainer.spec.kind, name: trainer.spec.meta.name, steps: trainer.step };
  } finally {
    trainer.dispose();
  }
}

