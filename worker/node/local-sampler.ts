// SampleService on this machine: checkpoints from the models folder, loaded
// once and cached, generated with tfjs on the backend selected at start-up,
// encoded as asked. Failures become HttpErrors whose messages name the model
// and the reason, never a server path.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../../shared/checkpoint/errors.ts';
import { MANIFEST_FILE } from '../../shared/checkpoint/manifest.ts';
import { ConfigError } from '../../shared/config.ts';
import { generate, planGeneration, type GenerateOptions } from '../../sampler/generate.ts';
import { loadModel } from '../../sampler/load.ts';
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

/**
 * planGeneration's objection (it checks what the app cannot, e.g. steps
 * against a discrete schedule's T) as a 422 naming the field.
 */
function rejected(e: unknown): HttpError {
  const message = firstLine(e);
  const issue = e instanceof ConfigError ? { path: e.field, message: e.reason } : { path: '(body)', message };
  return new HttpError(422, `invalid sampling request: ${message}`, { issues: [issue] });
}

export function localSampler(modelsDir: string, opts: { maxLoadedModels?: number } = {}): LocalSampler {
  const versionOf = async (id: string) => {
    try {
      const st = await stat(join(modelsDir, id, MANIFEST_FILE));
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'unreadable'; // the load that follows reports why
    }
  };
  const cache = new ModelCache((id) => loadModel(join(modelsDir, id)), versionOf, opts.maxLoadedModels ?? 2);

  return {
    async sample(id, request, { signal, onProgress }) {
      const { count, steps, sampler, eta, seed, guidance, label } = request;
      const options: GenerateOptions = { count, steps, sampler, eta, seed, guidance, label };
      try {
        return await cache.use(id, async (model) => {
          try {
            planGeneration(model, options);
          } catch (e) {
            throw rejected(e);
          }
          return encodeOutput(id, request, await generate(model, options, { signal, onProgress }));
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
