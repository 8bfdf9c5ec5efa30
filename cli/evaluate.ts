// `medsynth evaluate <model> --data <[label=]path>... --out <dir>`: thin
// wiring of the checkpoint, the data split and evaluateCheckpoint. Writes
// <dir>/report.json and <dir>/grid.png (real held-out and generated rows).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config.ts';
import { describeChoice, parseBackendName, selectBackend } from '../sampler/backend.ts';
import { loadModel } from '../sampler/load.ts';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { parseOnBadFile } from '../trainer/data/index.ts';
import { prepareEvaluationData } from '../trainer/dataset.ts';
import { evaluateCheckpoint, type EvaluationReport } from '../trainer/evaluate/evaluate.ts';
import { checkOutputFolder } from './args.ts';

const count = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new ConfigError(`--${name}`, `expected a positive integer, got "${v}"`);
  return Number(v);
};

/** What `evaluate --json` prints: the report, and where it and the grid were written. */
export interface EvaluateSummary {
  files: { report: string; grid: string };
  report: EvaluationReport;
}

export async function evaluate(args: string[], log: (s: string) => void): Promise<EvaluateSummary> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      data: { type: 'string', multiple: true },
      out: { type: 'string' },
      reference: { type: 'string' },
      count: { type: 'string' },
      steps: { type: 'string' },
      sampler: { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      'on-bad-file': { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new ConfigError('evaluate', 'takes one checkpoint folder or URL');
  if (!values.data?.length) throw new ConfigError('--data', 'the files the model was trained on, labelled as in training (label=path), are required');
  if (!values.out) throw new ConfigError('--out', 'a folder for report.json and grid.png is required');
  await checkOutputFolder(values.out);
  const options = { count: count('count', values.count), steps: count('steps', values.steps), seed: count('seed', values.seed), sampler: values.sampler as never };
  const onBadFile = parseOnBadFile(values['on-bad-file'] ?? 'fail');
  const backend = await selectBackend(values.backend === undefined ? undefined : parseBackendName(values.backend));
  log(`backend: ${describeChoice(backend)}`);

  const model = await loadModel(positionals[0]);
  const reference = values.reference ? await loadModel(values.reference) : undefined;
  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  process.once('SIGINT', stop);
  try {
    const data = await prepareEvaluationData(values.data, model.manifest, { onBadFile, log: values.verbose ? log : () => {} });
    log(`data: ${data.train.size} training and ${data.validation?.size ?? 0} held-out examples`);
    const { report, grid } = await evaluateCheckpoint(model, data, options, {
      log,
      signal: ctrl.signal,
      ...(reference ? { reference: { model: reference, location: values.reference! } } : {}),
    });
    await writeFileAtomic(join(values.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(join(values.out, 'grid.png'), grid);
    const files = { report: join(values.out, 'report.json'), grid: join(values.out, 'grid.png') };
    log(`wrote ${files.report} and ${files.grid}`);
    return { files, report };
  } finally {
    process.off('SIGINT', stop);
    model.dispose();
    reference?.dispose();
  }
}
