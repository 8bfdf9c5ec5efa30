// `medsynth sample`, `inspect` and `init`: the sampling-side commands.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config.ts';
import { BadInputError, CancelledError } from '../shared/errors.ts';
import { describeChoice, MULTICORE_BACKENDS, parseBackendName, selectBackend } from '../sampler/backend.ts';
import { encodeByExtension, outputFormat } from '../sampler/encode/index.ts';
import { generate, planGeneration, type GenerateProgress } from '../sampler/generate.ts';
import { loadModel, resolveSource } from '../sampler/load.ts';
import { inspectCheckpoint, type InspectReport } from '../sampler/inspect.ts';
import { writeFileAtomic } from '../sampler/node/atomic-file.ts';
import { writeCheckpointFolder } from '../sampler/node/checkpoint-folder.ts';
import { createSamplerPool } from '../sampler/node/pool.ts';
import { PRESETS } from '../trainer/presets.ts';
import { untrainedCheckpoint } from '../trainer/untrained.ts';
import { asBadInput, checkOutputFile, int, num, progressBar, THREAD_FLAGS, threadsFlag, writeStdout } from './args.ts';
import { DEFAULT_MODEL } from '../sampler/node/package-files.ts';


/** What `sample --json` prints. */
export interface SampleSummary {
  out: string;
  format: string;
  images: number;
  shape: number[];
  bytes: number;
  sampler: string;
  steps: number;
  seed: number;
  backend: string;
  model: { name: string; kind: string; modality: string };
}

export async function sample(args: string[], log: (s: string) => void): Promise<SampleSummary> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      count: { type: 'string' },
      steps: { type: 'string' },
      sampler: { type: 'string' },
      eta: { type: 'string' },
      seed: { type: 'string' },
      guidance: { type: 'string' },
      label: { type: 'string' },
      backend: { type: 'string' },
      ...THREAD_FLAGS,
      format: { type: 'string' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  });
  const modelSource = values.model ?? DEFAULT_MODEL;
  if (!values.out) throw new BadInputError('--out <file.png|file.nii.gz|-> is required');
  const out = values.out;
  const toStdout = out === '-';
  if (toStdout && values.json) throw new ConfigError('--json', 'cannot share stdout with --out -: write the image to a file');
  // The format from --format, else from the file name (stdout has none: PNG).
  const named = toStdout ? undefined : asBadInput(`--out ${out}: `, () => outputFormat(out));
  const format = values.format ?? named ?? 'png';
  if (!['png', 'nii', 'nii.gz'].includes(format)) throw new ConfigError('--format', `expected png, nii or nii.gz, got "${format}"`);
  if (named !== undefined && named !== format) throw new ConfigError('--format', `${format} disagrees with the file name ${out}`);
  if (!toStdout) await checkOutputFile(out);
  const backendName = values.backend === undefined ? undefined : asBadInput('', () => parseBackendName(values.backend!));
  const quiet = values.quiet ?? false;
  const label = values.label === undefined ? undefined : /^\d+$/.test(values.label) ? Number(values.label) : values.label;
  const options = {
    count: int('count', values.count),
    steps: int('steps', values.steps),
    sampler: values.sampler as never,
    eta: num('eta', values.eta),
    seed: int('seed', values.seed),
    guidance: num('guidance', values.guidance),
    label,
  };
  const threads = int('threads', threadsFlag(values, log));
  if (threads === 0) throw new BadInputError('--threads must be at least 1');

  // Ctrl-C from here on cancels cleanly (exit 130, no file), during loading too.
  const ctrl = new AbortController();
  const onSignal = () => ctrl.abort();
  process.once('SIGINT', onSignal);
  try {
    const backend = await selectBackend(backendName);
    log(`backend: ${describeChoice(backend)}`);

    const loadBar = progressBar(quiet, 'download');
    const model = await loadModel(modelSource, {
      onProgress: (p) => {
        if (!loadBar) return;
        if (p.loaded === 0 || !loadBar.getTotal()) loadBar.start(p.total, p.loaded, { unit: 'bytes' });
        loadBar.update(p.loaded);
      },
    });
    loadBar?.stop();
    try {
      const m = model.manifest;
      log(`model: ${m.name} (${m.kind}, ${m.modality}, ${m.data.shape.join('x')}, ${m.quantization})`);
      const plan = planGeneration(model, options);
      // Several images: one thread per core (each its own wasm instance) unless the backend threads its own kernels, or told otherwise.
      const poolSize = Math.min(threads ?? (MULTICORE_BACKENDS.includes(backend.name) ? 1 : availableParallelism()), plan.count);
      const bar = progressBar(quiet, 'sampling');
      const pool = poolSize > 1 ? await createSamplerPool(modelSource, { threads: poolSize, backend: backend.name }) : undefined;
      if (pool) log(`sampling on ${pool.size} threads`);
      let result;
      try {
        const hooks = {
          signal: ctrl.signal,
          onProgress: (p: GenerateProgress) => {
            if (!bar) return;
            if (!bar.getTotal()) bar.start(p.totalSteps, 0, { unit: 'steps' });
            bar.update(p.step);
          },
        };
        if (ctrl.signal.aborted) throw new CancelledError();
        result = pool ? await pool.generate(options, hooks) : await generate(model, plan, hooks);
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw new CancelledError('cancelled', { cause: e });
        throw e;
      } finally {
        bar?.stop();
        await pool?.close();
      }
      const images = result.images;
      const bytes = asBadInput(`--out ${out}: `, () => encodeByExtension(`image.${format}`, images));
      if (toStdout) await writeStdout(bytes);
      else await writeFileAtomic(out, bytes);
      log(`wrote ${toStdout ? 'stdout' : out}: ${result.images.length} image(s), ${result.sampler} ${result.steps} steps, seed ${result.seed}, backend ${result.backend}`);
      return {
        out,
        format,
        images: images.length,
        shape: [...images[0].shape],
        bytes: bytes.length,
        sampler: result.sampler,
        steps: result.steps,
        seed: result.seed,
        backend: result.backend,
        model: { name: m.name, kind: m.kind, modality: m.modality },
      };
    } finally {
      model.dispose();
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export async function init(args: string[], log: (s: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { preset: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, quantize: { type: 'string' }, verbose: { type: 'boolean' } },
  });
  if (!values.preset) throw new BadInputError(`--preset is required (one of ${Object.keys(PRESETS).join(', ')})`);
  if (!Object.hasOwn(PRESETS, values.preset)) throw new BadInputError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}; got "${values.preset}"`);
  if (!values.out) throw new BadInputError('--out <dir> is required');
  // The same flag and message as `export --quantize`.
  const quantization = values.quantize ?? 'int8';
  if (quantization !== 'fp32' && quantization !== 'fp16' && quantization !== 'int8') {
    throw new ConfigError('--quantize', `expected int8, fp16 or fp32, got "${quantization}"`);
  }
  const seed = int('seed', values.seed) ?? 0;
  const { manifest, files } = await untrainedCheckpoint(values.preset, seed, quantization);
  await writeCheckpointFolder(values.out, files);
  const bytes = manifest.shards.reduce((n, sh) => n + sh.bytes, 0);
  log(`wrote ${values.out}: untrained ${manifest.kind} "${manifest.name}", ${manifest.tensors.length} tensors, ${quantization}, ${bytes} bytes, seed ${seed}`);
}

export async function inspect(args: string[], log: (s: string) => void): Promise<InspectReport> {
  const { positionals } = parseArgs({ args, options: { verbose: { type: 'boolean' }, json: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length !== 1) throw new BadInputError('inspect takes one checkpoint folder or URL');
  const { report, lines } = await inspectCheckpoint(await resolveSource(positionals[0]));
  for (const line of lines) log(line);
  return report;
}

