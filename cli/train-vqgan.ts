// `medsynth train --config <VQ-GAN preset>`: the data pipeline (the same
// `--data` entries, preprocessing and held-out rules as diffusion training),
// a VqganTrainer, and the run loop. Called by cli/train.ts.
import { join } from 'node:path';
import { ConfigError } from '../shared/config.ts';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { RUN_JSON, type RunRecord } from '../trainer/run-record.ts';
import { runTrainingJob, type TrainCommandOptions, type TrainSummary } from './args.ts';
import { prepareTrainingData } from '../trainer/dataset.ts';
import { getPreset } from '../trainer/presets.ts';
import { applyOverrides, deepMerge, trainSettings, trainSpec } from '../trainer/run-config.ts';
import { runCheckpoint } from '../trainer/run.ts';
import { splitVqganTrain, vqganJob } from '../trainer/vqgan/job.ts';
import { VqganTrainer } from '../trainer/vqgan/trainer.ts';

export async function trainVqgan(record: RunRecord, out: string, opts: TrainCommandOptions): Promise<TrainSummary> {
  const { log } = opts;
  let trainer: VqganTrainer;
  if (opts.resume) {
    // The overrides become part of the record, so a later resume keeps them.
    record = { ...record, config: { ...record.config, train: (applyOverrides({ train: record.config.train }, opts.sets).train ?? {}) as Record<string, unknown> } };
    const overrides = splitVqganTrain((applyOverrides({}, opts.sets).train ?? {}) as Record<string, unknown>).trainer;
    trainer = await VqganTrainer.load(runCheckpoint(out), {}, overrides);
  }
  const { settings, trainer: trainerConfig } = splitVqganTrain(trainSettings(record.config));
  const data = await prepareTrainingData(record.data, record.config, { onBadFile: opts.onBadFile, log });
  if (data.train.shape.length !== 4) throw new ConfigError('config.data.target.shape', `a VQ-GAN trains on volumes [D, H, W]; this preprocessing gives [${data.train.shape.slice(0, -1)}]`);
  if (!opts.resume) {
    const spec = trainSpec(record.config);
    const config = {
      ...trainerConfig,
      model: deepMerge(getPreset(record.config.preset).model, record.config.model),
      shape: data.train.shape.slice(0, 3),
      modality: data.meta.modality ?? spec.meta.modality,
    };
    trainer = VqganTrainer.create(config, settings.seed);
  }
  await writeFileAtomic(join(out, RUN_JSON), `${JSON.stringify(record, null, 2)}\n`);
  const t = trainer!;
  try {
    const name = trainSpec(record.config).meta.name;
    log(`${opts.resume ? `resuming ${out} at step ${t.step} of ${settings.steps}` : `training vqgan3d "${name}"`}: ${data.train.size} volumes, ${data.validation?.size ?? 0} held out, latents [${t.model.latentShape(t.config.shape)}] x ${t.config.model.embeddingDim}`);
    await runTrainingJob(vqganJob(t, settings, data.train, data.validation), out, { quiet: opts.quiet, label: 'vqgan', log });
    log(`done: ${t.step} steps; make latents with medsynth encode ${out} --out <latents>`);
    return { run: out, kind: 'vqgan3d', name, steps: t.step };
  } finally {
    t.dispose();
  }
}
