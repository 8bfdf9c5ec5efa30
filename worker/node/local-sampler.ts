// SampleService on this machine: checkpoints from the models folder, loaded
// once and cached, generated with tfjs on the backend selected at start-up
// (or, for a library user who selected none, the best one at first load),
// encoded as asked. With `threads` > 1 each loaded model also gets a pool of
// sampler threads (sampler/node/pool.ts, one wasm instance per core), so
// generation uses every core and never blocks the server's event loop; the
// main thread's copy only checks requests. Failures become HttpErrors whose messages name the model
// and the reason, never a server path.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../../shared/checkpoint/errors.ts';
import { MANIFEST_FILE } from '../../shared/checkpoint/manifest.ts';
import { generate, generationPlan, type GenerateOptions } from '../../sampler/generate.ts';
import { ensureBackend, type BackendName } from '../../sampler/backend.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { createSamplerPool, type SamplerPool } from '../../sampler/node/pool.ts';
import { HttpError } from '../errors.ts';
import type { SampleService } from '../sample-service.ts';
import { encodeOutput } from './encode-output.ts';
import { ModelCache } from './model-cache.ts';

export interface LocalSampler extends SampleService {
  /** Frees the loaded models (those in use once their requests finish). */
  close(): void;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

interface Loaded {
  model: LoadedModel;
  pool?: SamplerPool;
  dispose(): Promise<void>;
}

async function loadWithPool(dir: string, threads: number, backend: BackendName | undefined): Promise<Loaded> {
  await ensureBackend(backend); // a library user's mounted app may not have selected one
  const model = await loadModel(dir);
  try {
    const pool = threads > 1 ? await createSamplerPool(dir, { threads, backend }) : undefined;
    const dispose = async () => {
      model.dispose();
      await pool?.close();
    };
    return { model, pool, dispose };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export interface LocalSamplerOptions {
  maxLoadedModels?: number;
  /** Sampler threads per loaded model; 1 generates on the main thread. */
  threads?: number;
  /** The backend the threads run, and the main thread's when the caller has not selected one (default: the best). */
  backend?: BackendName;
}

export function localSampler(modelsDir: string, opts: LocalSamplerOptions = {}): LocalSampler {
  const versionOf = async (id: string) => {
    try {
      const st = await stat(join(modelsDir, id, MANIFEST_FILE));
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'unreadable'; // the load that follows reports why
    }
  };
  const threads = opts.threads ?? 1;
  const cache = new ModelCache((id) => loadWithPool(join(modelsDir, id), threads, opts.backend), versionOf, opts.maxLoadedModels ?? 2);

  return {
    async sample(id, job, { signal, onProgress }) {
      // The app planned the job against the manifest: here it only gets its sampler and grid (the
      // pool's threads plan their own share of the images).
      const { count, steps, sampler, eta, seed, guidance, label } = job;
      const options: GenerateOptions = { count, steps, sampler, eta, seed, guidance, label };
      try {
        return await cache.use(id, async ({ model, pool }) => {
          const hooks = { signal, onProgress };
          return encodeOutput(id, job, await (pool ? pool.generate(options, hooks) : generate(model, generationPlan(model, job), hooks)));
        });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (e instanceof HttpError) throw e;
        if (e instanceof CheckpointError) {
          // The app saw the manifest a moment ago: only its disappearance means "no such model".
          const gone = e.missing && e.file.endsWith(`/${MANIFEST_FILE}`);
          throw gone ? new HttpError(404, `no model "${id}"`) : new HttpError(500, `model "${id}" could not be loaded: ${e.reason}`);
        }
        console.error(e);
        throw new HttpError(500, `sampling failed: ${firstLine(e)}`);
      }
    },
    close: () => cache.clear(),
  };
}
