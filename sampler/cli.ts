// The `medsynth` command line. Bad arguments or inputs print one line and
// exit 2; other failures exit 1; stack traces only with --verbose.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { CheckpointError } from '../shared/checkpoint/index.ts';
import { ConfigError } from '../shared/config.ts';
import { ReadError } from '../trainer/data/types.ts';
import { BACKEND_NAMES, parseBackendName, selectBackend } from './backend.ts';
import { encodeByExtension, outputFormat } from './encode/index.ts';
import { generate, planGeneration, type GenerateProgress } from './generate.ts';
import { loadModel, resolveSource } from './load.ts';
import { inspectCheckpoint } from './inspect.ts';
import { writeFileAtomic } from './node/atomic-file.ts';
import { writeCheckpointFolder } from './node/checkpoint-folder.ts';
import { createSamplerPool } from './node/pool.ts';
import { PRESETS } from '../trainer/presets.ts';
import { untrainedCheckpoint } from '../trainer/untrained.ts';

/** The checkpoint shipped with the project, used when --model is not given. */
export const DEFAULT_MODEL = fileURLToPath(new URL('../models/default', import.meta.url));

/** A problem with what the user asked for: exit code 2. */
export class UsageError extends Error {}

/** Interrupted by the user (SIGINT): exit code 130, as shells report it. */
class CancelledError extends Error {}

/** Runs `f`, turning any error it throws into a UsageError prefixed with `what`. */
function asUsage<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UsageError(`${what}${(e as Error).message}`, { cause: e });
  }
}

const USAGE = `usage:
  medsynth sample [--model <dir|url>] --out <file.png|file.nii|file.nii.gz>
                  [--count N] [--steps N] [--sampler ddpm|ddim|dpm-solver++|vdm] [--eta E]
                  [--seed N] [--guidance W] [--label NAME|INDEX] [--backend ${BACKEND_NAMES.join('|')}]
                  [--workers N]  (threads for several images; default one per core)
  medsynth inspect <dir|url>
  medsynth serve [--models <dir>] [--port N] [--host H] [--backend ${BACKEND_NAMES.join('|')}] [--workers N]
                  HTTP API and demo page (API key from MEDSYNTH_API_KEY, if set)
  medsynth publish <dir> --bucket <name> [--prefix <model id>] [--local] [--persist-to <dir>]
                  uploads a verified checkpoint to R2 (R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY)
  medsynth train --config <preset|file.json> --data <[label=]path>... --out <run dir>
                  [--set field=value]... [--steps N] [--resume] [--on-bad-file skip|fail] [--backend B]
                  [--init <checkpoint dir>]  (warm start: a new run from an exported model's weights)
  medsynth train --config <latent DDPM preset> --latents <dir> --out <run dir> [--set field=value]...
  medsynth encode <VQ-GAN run dir> --out <latents dir> [--data <[label=]path>...] [--backend B]
                  latents of the run's training and held-out volumes, scaled to [-1, 1]
  medsynth export <run dir> --out <dir> [--quantize int8|fp16|fp32] [--vqgan <VQ-GAN run dir>]
  medsynth evaluate <dir|url> --data <[label=]path>... --out <dir> [--reference <fp32 dir>]
                  [--count N] [--steps N] [--sampler S] [--seed N] [--backend B]
                  held-out loss, MS-SSIM, SWD, memorisation, int8 vs fp32: report.json + grid.png
  medsynth init --preset <name> --out <dir> [--seed N] [--quantization fp32|fp16|int8]
                  writes an untrained checkpoint (presets: ${Object.keys(PRESETS).join(', ')})
--model defaults to the embedded default model (models/default).
options: --verbose (stack traces), --quiet (no progress), --help`;

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

function progressBar(quiet: boolean, label: string) {
  if (quiet || !process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} {unit} | {eta_formatted} left`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
}

async function sample(args: string[], log: (s: string) => void): Promise<void> {
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
      workers: { type: 'string' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  });
  const modelSource = values.model ?? DEFAULT_MODEL;
  if (!values.out) throw new UsageError('--out <file.png|file.nii.gz> is required');
  const out = values.out;
  asUsage(`--out ${out}: `, () => outputFormat(out));
  const backendName = values.backend === undefined ? undefined : asUsage('', () => parseBackendName(values.backend!));
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
  const workers = int('workers', values.workers);
  if (workers === 0) throw new UsageError('--workers must be at least 1');

  const backend = await selectBackend(backendName);
  log(`backend: ${backend.name}${backend.skipped.length ? ` (skipped ${backend.skipped.join('; ')})` : ''}`);

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
    const plan = asUsage('', () => planGeneration(model, options));
    // Several images: one thread per core (each its own wasm instance), unless told otherwise.
    const threads = Math.min(workers ?? availableParallelism(), plan.count);
    const bar = progressBar(quiet, 'sampling');
    const ctrl = new AbortController();
    const onSignal = () => ctrl.abort();
    process.once('SIGINT', onSignal);
    const pool = threads > 1 ? await createSamplerPool(modelSource, { workers: threads, backend: backend.name }) : undefined;
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
      result = pool ? await pool.generate(options, hooks) : await generate(model, options, hooks);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new CancelledError('cancelled', { cause: e });
      throw e;
    } finally {
      bar?.stop();
      process.off('SIGINT', onSignal);
      await pool?.close();
    }
    const images = result.images;
    const bytes = asUsage(`--out ${out}: `, () => encodeByExtension(out, images));
    await writeFileAtomic(out, bytes);
    log(`wrote ${out}: ${result.images.length} image(s), ${result.sampler} ${result.steps} steps, seed ${result.seed}, backend ${result.backend}`);
  } finally {
    model.dispose();
  }
}

async function init(args: string[], log: (s: string) => void): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { preset: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, quantization: { type: 'string' }, verbose: { type: 'boolean' } },
  });
  if (!values.preset) throw new UsageError(`--preset is required (one of ${Object.keys(PRESETS).join(', ')})`);
  if (!Object.hasOwn(PRESETS, values.preset)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}; got "${values.preset}"`);
  if (!values.out) throw new UsageError('--out <dir> is required');
  const quantization = values.quantization ?? 'int8';
  if (quantization !== 'fp32' && quantization !== 'fp16' && quantization !== 'int8') {
    throw new UsageError(`--quantization must be fp32, fp16 or int8; got "${quantization}"`);
  }
  const seed = int('seed', values.seed) ?? 0;
  const { manifest, files } = await untrainedCheckpoint(values.preset, seed, quantization);
  await writeCheckpointFolder(values.out, files);
  const bytes = manifest.shards.reduce((n, sh) => n + sh.bytes, 0);
  log(`wrote ${values.out}: untrained ${manifest.kind} "${manifest.name}", ${manifest.tensors.length} tensors, ${quantization}, ${bytes} bytes, seed ${seed}`);
}

async function inspect(args: string[], log: (s: string) => void): Promise<void> {
  const { positionals } = parseArgs({ args, options: { verbose: { type: 'boolean' } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError('inspect takes one checkpoint folder or URL');
  for (const line of await inspectCheckpoint(await resolveSource(positionals[0]))) log(line);
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], log = (s: string) => console.log(s), err = (s: string) => console.error(s)): Promise<number> {
  const [command, ...rest] = argv;
  const verbose = rest.includes('--verbose');
  try {
    if (!command || command === '--help' || command === 'help' || rest.includes('--help')) {
      log(USAGE);
      return command ? 0 : 2;
    }
    if (command === 'sample') await sample(rest, log);
    else if (command === 'inspect') await inspect(rest, log);
    else if (command === 'init') await init(rest, log);
    // Imported lazily: the server pulls in hono, and serve-command imports UsageError from here.
    else if (command === 'serve') await (await import('../worker/node/serve-command.ts')).serve(rest, log);
    else if (command === 'train') await (await import('../trainer/cli.ts')).train(rest, log);
    else if (command === 'export') await (await import('../trainer/cli.ts')).exportRun(rest, log);
    else if (command === 'encode') await (await import('../trainer/latent/encode.ts')).encode(rest, log);
    else if (command === 'evaluate') await (await import('../trainer/evaluate/cli.ts')).evaluate(rest, log);
    else if (command === 'publish') await (await import('../worker/node/publish-command.ts')).publish(rest, log);
    else throw new UsageError(`unknown command "${command}" (commands: sample, inspect, init, train, encode, export, evaluate, serve, publish; see --help)`);
    return 0;
  } catch (e) {
    const error = e as Error;
    // parseArgs throws TypeErrors with a code for unknown or malformed options.
    const usage = e instanceof UsageError || e instanceof CheckpointError || e instanceof ConfigError || e instanceof ReadError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // One line (parseArgs's messages can span several); the rest with --verbose.
    err(`medsynth: ${error.message.split('\n')[0]}`);
    if (verbose && error.stack) err(error.stack);
    if (verbose && error.cause instanceof Error && error.cause.stack) err(`caused by: ${error.cause.stack}`);
    return e instanceof CancelledError ? 130 : usage ? 2 : 1;
  }
}
