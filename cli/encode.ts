// `medsynth encode <vqgan run> [--data ...] --out <latents>`: the VQ-GAN's
// quantised latents of the training and held-out volumes, scaled to [-1, 1]
// by the codebook's range (Medical Diffusion), written as a latents folder
// (latents.ts) that names the VQ-GAN run and the hash of its checkpoint.
//
// The volumes go through the VQ-GAN run's own preprocessing and held-out
// rules (its run config), from its `--data` entries unless others are given.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config.ts';
import { codebookRange, scaleLatents } from '../shared/models/latent-ddpm.ts';
import { CODEBOOK } from '../shared/models/vqgan3d/index.ts';
import { describeChoice, parseBackendName, selectBackend } from '../sampler/backend.ts';
import { writeCheckpointFolder } from '../sampler/node/checkpoint-folder.ts';
import { readRunRecord } from '../trainer/run-record.ts';
import { parseOnBadFile } from '../trainer/data/index.ts';
import { prepareTrainingData } from '../trainer/dataset.ts';
import { getPreset, VQGAN_STAGE } from '../trainer/presets.ts';
import { trainSpec } from '../trainer/run-config.ts';
import { runCheckpoint } from '../trainer/run.ts';
import type { ExampleSet } from '../trainer/trainer.ts';
import { VqganTrainer } from '../trainer/vqgan/trainer.ts';
import { encodeLatents, manifestHash, type LatentSplit } from '../trainer/latent/latents.ts';
import { checkOutputFolder } from './args.ts';

export async function encode(args: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      data: { type: 'string', multiple: true },
      out: { type: 'string' },
      backend: { type: 'string' },
      'on-bad-file': { type: 'string' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new ConfigError('encode', 'takes one VQ-GAN run folder');
  if (!values.out) throw new ConfigError('--out', 'a latents folder is required');
  await checkOutputFolder(values.out);
  const runDir = resolve(positionals[0]);
  const record = await readRunRecord(runDir);
  if (getPreset(record.config.preset).kind !== VQGAN_STAGE) throw new ConfigError('encode', `${runDir} is not a VQ-GAN run (preset ${record.config.preset})`);
  const onBadFile = parseOnBadFile(values['on-bad-file'] ?? 'fail');
  const backend = await selectBackend(values.backend === undefined ? undefined : parseBackendName(values.backend), { tfjsOnly: true });
  log(`backend: ${describeChoice(backend)}`);

  const source = runCheckpoint(runDir);
  const checkpoint = await manifestHash(source);
  const trainer = await VqganTrainer.load(source);
  try {
    const entries = values.data?.length ? values.data : record.data;
    const data = await prepareTrainingData(entries, record.config, { onBadFile, log });
    const volume = data.train.shape.slice(0, 3);
    if (volume.join() !== trainer.config.shape.join()) {
      throw new ConfigError('--data', `prepares volumes of [${volume}], the VQ-GAN in ${runDir} takes [${trainer.config.shape}]`);
    }
    const scale = codebookRange(trainer.exportParams().get(CODEBOOK)!.dataSync() as Float32Array);
    const encodeSet = (set: ExampleSet): LatentSplit => {
      const examples = Array.from({ length: set.size }, (_, i) => set.get(i));
      const { latents } = trainer.encode(examples.map((e) => e.x));
      return { latents: scaleLatents(latents, scale), ...(data.meta.labels ? { labels: examples.map((e) => e.label!) } : {}) };
    };
    const shape = [...trainer.model.latentShape(trainer.config.shape), trainer.config.model.embeddingDim] as [number, number, number, number];
    const name = `${trainSpec(record.config).meta.name}-latents`;
    const files = await encodeLatents({
      name,
      source: { modality: data.meta.modality ?? trainer.config.modality, ...(data.meta.labels ? { labels: data.meta.labels } : {}), data: data.meta.data! },
      vqgan: trainer.config.model,
      record: { shape, scale, vqgan: { run: runDir, checkpoint, step: trainer.step } },
      train: encodeSet(data.train),
      validation: data.validation ? encodeSet(data.validation) : undefined,
    });
    await writeCheckpointFolder(values.out, files);
    log(
      `wrote ${values.out}: latents [${shape}] of ${data.train.size} training and ${data.validation?.size ?? 0} held-out volumes, ` +
        `VQ-GAN step ${trainer.step}, codebook range [${scale.min.toFixed(4)}, ${scale.max.toFixed(4)}] -> [-1, 1]`,
    );
  } finally {
    trainer.dispose();
  }
}
