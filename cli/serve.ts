// `medsynth serve`: the Node entry from the command line. Serves a models
// folder (default: the project's models/, holding the embedded default
// model), prints the URL, and shuts down cleanly on SIGINT / SIGTERM.
// Limits come from flags and MEDSYNTH_* variables (worker/settings.ts); the
// API key only from MEDSYNTH_API_KEY, never argv (visible to `ps`).
//   medsynth serve [--models <dir>] [--port N (default $PORT, else 8787)] [--host H] [--backend tensorflow|onnxruntime|wasm|cpu] [--threads N] [--max-steps N ...]
// Sampling runs on a pool of threads, one per core by default.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { describeChoice, parseBackendName } from '../sampler/backend.ts';
import { BadInputError } from '../shared/errors.ts';
import { startServer, type RunningServer } from '../worker/node/start-server.ts';
import { serverConfigFrom, SETTING_FLAGS } from '../worker/settings.ts';
import { packagePath } from '../sampler/node/package-files.ts';
import { THREAD_FLAGS, threadsFlag } from './args.ts';

const DEFAULT_MODELS_DIR = packagePath('models');

export async function serve(args: string[], log: (s: string) => void, env = process.env): Promise<RunningServer> {
  const { values } = parseArgs({
    args,
    options: { models: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, backend: { type: 'string' }, ...THREAD_FLAGS, ...SETTING_FLAGS },
  });
  const config = serverConfigFrom({ flags: values, env });
  const threadsText = threadsFlag(values, log);
  if (threadsText !== undefined && !/^([1-9]\d?)$/.test(threadsText)) throw new BadInputError(`--threads must be an integer in [1, 99], got "${threadsText}"`);
  const threads = threadsText === undefined ? availableParallelism() : Number(threadsText);
  // --port, else $PORT (what hosting platforms set), else 8787.
  const portText = values.port ?? (env.PORT || undefined);
  const port = Number(portText ?? 8787);
  if ((portText !== undefined && !/^\d{1,5}$/.test(portText)) || port > 65535) {
    throw new BadInputError(`${values.port !== undefined ? '--port' : 'PORT'} must be an integer in [0, 65535], got "${portText}"`);
  }
  const backend = values.backend === undefined ? undefined : parseBackendName(values.backend);
  const modelsDir = values.models ?? DEFAULT_MODELS_DIR;

  const server = await startServer({ modelsDir, port, host: values.host, backend, threads, config });
  log(`backend: ${describeChoice(server.backend)}`);
  log(`serving ${modelsDir} at ${server.url} (sampling on ${threads} thread${threads > 1 ? 's' : ''})`);

  const close = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return server.close();
  };
  const onSignal = (signal: string) => {
    log(`${signal}: shutting down`);
    close().catch((e) => {
      console.error(`medsynth: ${(e as Error).message}`);
      process.exitCode = 1;
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { ...server, close };
}
