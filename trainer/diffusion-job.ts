// A diffusion network's training (DDPM or VDM: trainer.ts) as a run's job
// (run.ts): batches from the training set, the held-out loss, and previews
// sampled from the EMA weights through the real export + load path.
import { memorySource } from '../shared/checkpoint/index.ts';
import { encodeMontagePng } from '../sampler/encode/index.ts';
import { generate } from '../sampler/generate.ts';
import { loadModel } from '../sampler/load.ts';
import { exportCheckpoint } from './export.ts';
import type { TrainingJob } from './run.ts';
import { heldOutLine, type ExampleSet, type StepMetrics, type Trainer } from './trainer.ts';

/** A few images with the EMA weights (two per class when labelled, else four), as one PNG montage. */
async function preview(trainer: Trainer): Promise<Uint8Array> {
  const { files } = await exportCheckpoint(trainer.model, trainer.exportParams(), trainer.spec.meta, 'fp32');
  const model = await loadModel(memorySource(files, 'preview'));
  try {
    const labels = model.manifest.labels ?? [];
    const images = [];
    for (const label of labels) images.push(...(await generate(model, { count: 2, seed: 0, label })).images);
    if (!labels.length) images.push(...(await generate(model, { count: 4, seed: 0 })).images);
    return encodeMontagePng(images);
  } finally {
    model.dispose();
  }
}

/** The job that trains `trainer` on `train`, validating on `validation` when given. */
export function diffusionJob(trainer: Trainer, train: ExampleSet, validation?: ExampleSet): TrainingJob<StepMetrics> {
  return {
    get step() {
      return trainer.step;
    },
    plan: trainer.config,
    trainStep: async () => {
      const metrics = await trainer.trainStep(train);
      return { metrics, loss: metrics.loss };
    },
    validate: validation
      ? () => {
          const v = trainer.evaluate(validation);
          return { validation: v, line: `validation loss ${heldOutLine(v)}` };
        }
      : undefined,
    preview: () => preview(trainer),
    save: () => trainer.save(),
  };
}
