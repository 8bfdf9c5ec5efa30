// The `medsynth` command line: one dispatcher over the subcommands in this
// folder. An error's own kind (shared/errors.ts) decides the exit code: bad
// input 2, cancelled 130, any other failure 1. One line on stderr; stack
// traces only with --verbose.
import { readFileSync } from 'node:fs';
import { BadInputError, errorKind, type ErrorKind } from '../shared/errors.ts';
import { BACKEND_NAMES } from '../sampler/backend-names.ts';
import { DEFAULT_MODEL, packagePath } from '../sampler/node/package-files.ts';

export { DEFAULT_MODEL };

/** The documented exit code of each kind of error (README "Exit codes"). */
export const EXIT_CODES: Record<ErrorKind, number> = { 'bad-input': 2, failure: 1, cancelled: 130 };

const USAGE = `usage:
  medsynth sample [--model <dir|url>] --out <file.png|file.nii|file.nii.gz|-> [--format png|nii|nii.gz] [--json]
                  [--count N] [--steps N] [--sampler ddpm|ddim|dpm-solver++|vdm] [--eta E]
                  [--seed N] [--guidance W] [--label NAME|INDEX] [--backend ${BACKEND_NAMES.join('|')}]
                  [--threads N]  (threads for several images; default one per core, one on onnxruntime/tensorflow)
  medsynth inspect <dir|url> [--json]
  medsynth serve [--models <dir>] [--port N] [--host H] [--backend ${BACKEND_NAMES.join('|')}] [--threads N]
                  [--max-steps N] [--max-count N] [--rate-requests N] [--timeout-ms N] ... (README "Server settings")
                  HTTP API and demo page; limits also from MEDSYNTH_* variables, the API key only from MEDSYNTH_API_KEY
  medsynth publish <dir> --bucket <name> [--prefix <model id>] [--local] [--persist-to <dir>]
                  uploads a verified checkpoint to R2 (R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY)
  medsynth train --config <preset|file.json> --data <[label=]path>... --out <run dir> [--json]
                  [--set field=value]... [--steps N] [--resume] [--on-bad-file skip|fail] [--backend B]
                  [--init <checkpoint dir>]  (warm start: a new run from an exported model's weights)
                  [--threads N]  (threads per step, each its own wasm instance; default: one per core)
  medsynth train --config <latent DDPM preset> --latents <dir> --out <run dir> [--set field=value]...
  medsynth encode <VQ-GAN run dir> --out <latents dir> [--data <[label=]path>...] [--backend B]
                  latents of the run's training and held-out volumes, scaled to [-1, 1]
  medsynth export <run dir> --out <dir> [--quantize int8|fp16|fp32] [--vqgan <VQ-GAN run dir>]
  medsynth evaluate <dir|url> --data <[label=]path>... --out <dir> [--reference <fp32 dir>] [--json]
                  [--count N] [--steps N] [--sampler S] [--seed N] [--backend B]
                  held-out loss, MS-SSIM, SWD, memorisation, int8 vs fp32: report.json + grid.png
  medsynth init --preset <name> --out <dir> [--seed N] [--quantize int8|fp16|fp32]
                  writes an untrained checkpoint (a missing or unknown --preset lists the presets)
--model defaults to the embedded default model (models/default).
--json (sample, inspect, train, evaluate): one JSON result on stdout, the log on stderr; sample --out - writes the image to stdout.
options: --verbose (stack traces), --quiet (no progress), --help (also after a command: its usage only), --version`;

/** The package's version (package.json), for --version. */
const VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

/** One command's block of USAGE (its `medsynth <command>` lines and their continuations), or undefined. */
function commandUsage(command: string): string | undefined {
  const blocks: string[][] = [];
  for (const line of USAGE.split('\n').slice(1)) {
    if (line.startsWith('  medsynth ')) blocks.push([line]);
    else if (line.startsWith('   ') && blocks.length) blocks.at(-1)!.push(line);
  }
  const mine = blocks.filter((b) => b[0].startsWith(`  medsynth ${command} `) || b[0] === `  medsynth ${command}`);
  return mine.length ? ['usage:', ...mine.flat(), 'options: --verbose (stack traces), --quiet (no progress), --help'].join('\n') : undefined;
}

/** Whether the arguments say `--out -` (or `--out=-`). */
function outIsStdout(args: readonly string[]): boolean {
  return args.some((a, i) => a === '--out=-' || (a === '--out' && args[i + 1] === '-'));
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], log = (s: string) => console.log(s), err = (s: string) => console.error(s)): Promise<number> {
  const [command, ...rest] = argv;
  const verbose = rest.includes('--verbose');
  try {
    if (command === '--version' || command === '-v') {
      log(VERSION);
      return 0;
    }
    if (!command || command === '--help' || command === 'help' || rest.includes('--help')) {
      // `medsynth <command> --help` (or `help <command>`): that command's usage only.
      const named = command === 'help' ? rest[0] : command;
      log(named && named !== '--help' ? (commandUsage(named) ?? USAGE) : USAGE);
      return command ? 0 : 2;
    }
    // Every command below may use tfjs (inspect and init without selecting a backend): no debug checks, no banner.
    (await import('@tensorflow/tfjs-core')).enableProdMode();
    // --json and `--out -` give stdout to the result: the human lines go to stderr.
    const json = rest.includes('--json');
    const say = json || outIsStdout(rest) ? err : log;
    let result: unknown;
    // Every command is imported when run: `--help` and `--version` load no tfjs, hono or trainer.
    if (command === 'sample') result = await (await import('./sample.ts')).sample(rest, say);
    else if (command === 'inspect') result = await (await import('./sample.ts')).inspect(rest, say);
    else if (command === 'init') await (await import('./sample.ts')).init(rest, say);
    else if (command === 'serve') await (await import('./serve.ts')).serve(rest, say);
    else if (command === 'train') result = await (await import('./train.ts')).train(rest, say);
    else if (command === 'export') await (await import('./train.ts')).exportRun(rest, say);
    else if (command === 'encode') await (await import('./encode.ts')).encode(rest, say);
    else if (command === 'evaluate') result = await (await import('./evaluate.ts')).evaluate(rest, say);
    else if (command === 'publish') await (await import('./publish.ts')).publish(rest, say);
    else throw new BadInputError(`unknown command "${command}" (commands: sample, inspect, init, train, encode, export, evaluate, serve, publish; see --help)`);
    // Commands without a result do not declare --json, so parseArgs has refused it already.
    if (json) log(JSON.stringify(result));
    return 0;
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    // One line (parseArgs's messages can span several); the rest with --verbose.
    err(`medsynth: ${error.message.split('\n')[0]}`);
    if (verbose && error.stack) err(error.stack);
    if (verbose && error.cause instanceof Error && error.cause.stack) err(`caused by: ${error.cause.stack}`);
    return EXIT_CODES[errorKind(e)];
  }
}
