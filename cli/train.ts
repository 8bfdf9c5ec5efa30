// `medsynth train` and `medsynth export`: the flags, the run record (a new
// run's config, or a resumed run's run.json) and which run it is. Loaded
// lazily by the CLI. Three kinds of run, by the preset's kind:
//   - a diffusion model on --data (ddpm-unet2d, ddpm-unet3d, vdm), and
//   - a latent DDPM on --latents (stage 2), exported with its VQ-GAN:
//     cli/train-diffusion.ts;
//   - a VQ-GAN on --data (stage 1 of latent diffusion): cli/train-vqgan.ts.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config.ts';
import { describeChoice, MULTICORE_BACKENDS, parseBackendName, selectBackend } from '../sampler/backend.ts';
import { recoverCheckpointFolder, writeCheckpointFolder } from '../sampler/node/checkpoint-folder.ts';
import { exists, readRunRecord, RUN_JSON, type RunRecord } from '../trainer/run-record.ts';
import { checkOutputFolder, int, type TrainSummary } from './args.ts';
import { parseOnBadFile } from '../trainer/data/index.ts';
import { exportCheckpoint } from '../trainer/export.ts';
import { exportLatentRun } from '../trainer/latent/export.ts';
import { getPreset, LATENT_STAGE, VQGAN_STAGE } from '../trainer/presets.ts';
import { loadRunConfig } from '../trainer/run-config.ts';
import { RUN_FILES, runCheckpoint } from '../trainer/run.ts';
import { Trainer } from '../trainer/trainer.ts';
import { trainDiffusion } from './train-diffusion.ts';
import { trainVqgan } from './train-vqgan.ts';

export async function train(args: string[], log: (s: string) => void): Promise<TrainSummary> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      data: { type: 'string', multiple: true },
      latents: { type: 'string' },
      out: { type: 'string' },
      set: { type: 'string', multiple: true },
      steps: { type: 'string' },
      resume: { type: 'boolean' },
      init: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      'on-bad-file': { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  });
  if (!values.out) throw new ConfigError('--out', 'a run folder is required');
  const out = values.out;
  await checkOutputFolder(out);
  const sets = [...(values.set ?? [])];
  if (values.steps !== undefined) {
    if (!/^\d+$/.test(values.steps)) throw new ConfigError('--steps', `expected a positive integer, got "${values.steps}"`);
    sets.push(`train.steps=${values.steps}`);
  }
  const onBadFile = parseOnBadFile(values['on-bad-file'] ?? 'fail');
  const backend = await selectBackend(values.backend === undefined ? undefined : parseBackendName(values.backend), { tfjsOnly: true });
  log(`backend: ${describeChoice(backend)}`);
  const threads = int('threads', values.threads);
  if (threads !== undefined && !(threads >= 1 && threads <= 64)) throw new ConfigError('--threads', `expected an integer in 1..64, got ${threads}`);

  let record: RunRecord;
  const checkpointDir = join(out, RUN_FILES.checkpoint);
  // A kill during a checkpoint write leaves the previous or the new state beside the folder: put it back first.
  for (const line of await recoverCheckpointFolder(checkpointDir)) log(line);
  if (values.resume) {
    if (!(await exists(join(checkpointDir, 'manifest.json')))) throw new ConfigError('--resume', `${out} holds no training checkpoint to resume`);
    record = await readRunRecord(out);
    if (values.config) throw new ConfigError('--config', 'a resumed run keeps its config; change settings with --set train.<field>=value');
    if (!sets.every((s) => s.startsWith('train.'))) throw new ConfigError('--set', 'a resumed run can change only train.* settings');
    if (values.data?.length) record.data = values.data;
    if (values.init) throw new ConfigError('--init', 'a resumed run keeps its weights; --init starts a new run');
  } else {
    if (!values.config) throw new ConfigError('--config', 'a preset name or a .json file is required');
    const config = await loadRunConfig(values.config, sets);
    const latentRun = getPreset(config.preset).kind === LATENT_STAGE;
    if (latentRun && !values.latents) throw new ConfigError('--latents', `preset ${config.preset} trains on latents: make them with medsynth encode <vqgan run> --out <latents>`);
    if (!latentRun && !values.data?.length) throw new ConfigError('--data', 'at least one file or folder is required');
    if (await exists(join(checkpointDir, 'manifest.json'))) throw new ConfigError('--out', `${out} already holds a run: use --resume, or another --out`);
    record = { config, data: values.data ?? [] };
  }
  const kind = getPreset(record.config.preset).kind;
  if (values.latents && kind !== LATENT_STAGE) {
    throw new ConfigError('--latents', `preset ${record.config.preset} (${kind}) trains on --data; --latents goes with a latent DDPM preset (brain-latent-ddpm-3d, tiny-latent-ddpm-3d)`);
  }
  if (kind === LATENT_STAGE && values.data?.length) throw new ConfigError('--data', `preset ${record.config.preset} trains on --latents, not on volumes`);
  if (kind === VQGAN_STAGE && values.init) throw new ConfigError('--init', `preset ${record.config.preset} is a VQ-GAN: --init warm-starts diffusion runs only`);
  if (kind === VQGAN_STAGE && threads !== undefined) throw new ConfigError('--threads', `preset ${record.config.preset} is a VQ-GAN: it trains on one thread (data-parallel steps are for diffusion runs)`);
  const opts = { resume: values.resume ?? false, sets, onBadFile, quiet: values.quiet, log };
  if (kind === VQGAN_STAGE) return trainVqgan(record, out, opts);

  // Data-parallel steps over every core, unless the backend threads its own kernels (tensorflow).
  const diffusionThreads = threads ?? (MULTICORE_BACKENDS.includes(backend.name) ? 1 : availableParallelism());
  return trainDiffusion(record, out, { ...opts, latents: values.latents, init: values.init, threads: diffusionThreads });
}

export async function exportRun(args: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { quantize: { type: 'string' }, out: { type: 'string' }, vqgan: { type: 'string' }, verbose: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new ConfigError('export', 'takes one run folder');
  if (!values.out) throw new ConfigError('--out', 'a checkpoint folder is required');
  await checkOutputFolder(values.out);
  const quantization = values.quantize ?? 'int8';
  if (quantization !== 'fp32' && quantization !== 'fp16' && quantization !== 'int8') {
    throw new ConfigError('--quantize', `expected int8, fp16 or fp32, got "${quantization}"`);
  }
  const runDir = positionals[0];
  // Older runs may lack run.json; a diffusion checkpoint exports without it.
  const record = (await exists(join(runDir, RUN_JSON))) ? await readRunRecord(runDir) : undefined;
  const kind = record && getPreset(record.config.preset).kind;
  if (kind === VQGAN_STAGE) {
    throw new ConfigError('export', `${runDir} is a VQ-GAN run: it is exported inside its latent DDPM (medsynth encode ${runDir} --out <latents>; medsynth train --config <latent preset> --latents <latents> --out <run>; medsynth export <run>)`);
  }
  if (values.vqgan && kind !== LATENT_STAGE) throw new ConfigError('--vqgan', `${runDir} is not a latent DDPM run`);
  const trainer = await Trainer.load(runCheckpoint(runDir));
  if (kind === LATENT_STAGE) {
    try {
      const { manifest, files } = await exportLatentRun(trainer, record!, quantization, { vqgan: values.vqgan });
      await writeCheckpointFolder(values.out, files);
      const bytes = manifest.shards.reduce((n, s) => n + s.bytes, 0);
      log(`wrote ${values.out}: ${manifest.kind} "${manifest.name}" (denoiser after ${trainer.step} steps + VQ-GAN decoder), ${quantization}, ${bytes} bytes`);
    } finally {
      trainer.dispose();
    }
    return;
  }
  try {
    const { manifest, files } = await exportCheckpoint(trainer.model, trainer.exportParams(), { ...trainer.spec.meta, training: trainer.trainingRecord() }, quantization);
    await writeCheckpointFolder(values.out, files);
    const bytes = manifest.shards.reduce((n, s) => n + s.bytes, 0);
    log(`wrote ${values.out}: ${manifest.kind} "${manifest.name}" after ${trainer.step} steps, ${quantization}, ${bytes} bytes`);
  } finally {
    trainer.dispose();
  }
}
