// `medsynth train` and `medsynth export`: thin wiring of the run config, the
// data pipeline, the Trainer and the run loop. Loaded lazily by the CLI.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { ConfigError } from '../shared/config.ts';
import { parseBackendName, selectBackend } from '../sampler/backend.ts';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { writeCheckpointFolder } from '../sampler/node/checkpoint-folder.ts';
import { parseOnBadFile } from './data/index.ts';
import { prepareTrainingData } from './dataset.ts';
import { exportCheckpoint } from './export.ts';
import { applyOverrides, loadRunConfig, trainSettings, trainSpec, type RunConfig } from './run-config.ts';
import { RUN_FILES, runCheckpoint, runTraining } from './run.ts';
import { Trainer } from './trainer.ts';

/** The run's own record: what it was asked to do, so --resume needs no repeats. */
const RUN_JSON = 'run.json';
interface RunRecord {
  config: RunConfig;
  data: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function train(args: string[], log: (s: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      data: { type: 'string', multiple: true },
      out: { type: 'string' },
      set: { type: 'string', multiple: true },
      steps: { type: 'string' },
      resume: { type: 'boolean' },
      backend: { type: 'string' },
      'on-bad-file': { type: 'string' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  });
  if (!values.out) throw new ConfigError('--out', 'a run folder is required');
  const out = values.out;
  const sets = [...(values.set ?? [])];
  if (values.steps !== undefined) {
    if (!/^\d+$/.test(values.steps)) throw new ConfigError('--steps', `expected a positive integer, got "${values.steps}"`);
    sets.push(`train.steps=${values.steps}`);
  }
  const onBadFile = parseOnBadFile(values['on-bad-file'] ?? 'fail');
  const backend = await selectBackend(values.backend === undefined ? undefined : parseBackendName(values.backend));
  log(`backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`);

  let record: RunRecord;
  let resumed: Trainer | undefined;
  const checkpointDir = join(out, RUN_FILES.checkpoint);
  if (values.resume) {
    if (!(await exists(join(checkpointDir, 'manifest.json')))) throw new ConfigError('--resume', `${out} holds no training checkpoint to resume`);
    record = JSON.parse(await readFile(join(out, RUN_JSON), 'utf8')) as RunRecord;
    if (values.config) throw new ConfigError('--config', 'a resumed run keeps its config; change settings with --set train.<field>=value');
    if (!sets.every((s) => s.startsWith('train.'))) throw new ConfigError('--set', 'a resumed run can change only train.* settings');
    const overrides = applyOverrides({}, sets).train as Record<string, unknown> | undefined;
    resumed = await Trainer.load(runCheckpoint(out), overrides);
    if (values.data?.length) record.data = values.data;
    log(`resuming ${out} at step ${resumed.step} of ${resumed.config.steps}`);
  } else {
    if (!values.config) throw new ConfigError('--config', 'a preset name or a .json file is required');
    if (!values.data?.length) throw new ConfigError('--data', 'at least one file or folder is required');
    if (await exists(join(checkpointDir, 'manifest.json'))) throw new ConfigError('--out', `${out} already holds a run: use --resume, or another --out`);
    record = { config: await loadRunConfig(values.config, sets), data: values.data };
  }

  const data = await prepareTrainingData(record.data, record.config, { onBadFile, log });
  let trainer = resumed;
  if (!trainer) {
    // A new run: the data decides the labels, spacing and intensity mapping.
    const spec = trainSpec(record.config);
    trainer = Trainer.create({ ...spec, model: { ...spec.model, ...data.model }, meta: { ...spec.meta, ...data.meta } }, trainSettings(record.config));
    await writeFileAtomic(join(out, RUN_JSON), `${JSON.stringify(record, null, 2)}\n`);
  }
  log(`training ${trainer.spec.kind} "${trainer.spec.meta.name}": ${data.train.size} examples, ${data.validation?.size ?? 0} held out, ${trainer.config.steps} steps`);

  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const bar =
    values.quiet || !process.stderr.isTTY
      ? undefined
      : new cliProgress.SingleBar(
          { stream: process.stderr, format: 'training [{bar}] {value}/{total} steps | loss {loss} | {rate} steps/s | {eta_formatted} left', hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(trainer.config.steps, trainer.step, { loss: '-', rate: '-' });
  try {
    const { interrupted } = await runTraining(trainer, data.train, data.validation, out, {
      signal: ctrl.signal,
      log,
      onStep: (m) => bar?.update(m.step, { loss: m.loss.toFixed(4), rate: m.stepsPerSec.toFixed(2) }),
    });
    bar?.stop();
    log(interrupted ? `stopped at step ${trainer.step}; continue with --resume` : `done: ${trainer.step} steps; export with medsynth export ${out}`);
  } finally {
    bar?.stop();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    trainer.dispose();
  }
}

export async function exportRun(args: string[], log: (s: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { quantize: { type: 'string' }, out: { type: 'string' }, verbose: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new ConfigError('export', 'takes one run folder');
  if (!values.out) throw new ConfigError('--out', 'a checkpoint folder is required');
  const quantization = values.quantize ?? 'int8';
  if (quantization !== 'fp32' && quantization !== 'fp16' && quantization !== 'int8') {
    throw new ConfigError('--quantize', `expected int8, fp16 or fp32, got "${quantization}"`);
  }
  const trainer = await Trainer.load(runCheckpoint(positionals[0]));
  try {
    const training = {
      steps: trainer.step,
      seconds: Math.round(trainer.seconds),
      backends: [...trainer.backends],
      seed: trainer.config.seed,
      weights: 'ema',
      config: trainer.config,
    };
    const { manifest, files } = await exportCheckpoint(trainer.model, trainer.exportParams(), { ...trainer.spec.meta, training }, quantization);
    await writeCheckpointFolder(values.out, files);
    const bytes = manifest.shards.reduce((n, s) => n + s.bytes, 0);
    log(`wrote ${values.out}: ${manifest.kind} "${manifest.name}" after ${trainer.step} steps, ${quantization}, ${bytes} bytes`);
  } finally {
    trainer.dispose();
  }
}
