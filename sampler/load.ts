// loadModel(): a checkpoint (folder, URL or any CheckpointSource) to a model
// ready for generate(), with byte-level progress.
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, loadCheckpoint, type CheckpointSource, type Int8Form, type LoadProgress, type Manifest } from '../shared/checkpoint/index.ts';
import { hostToParams } from '../shared/models/host.ts';
import { createModel } from '../shared/models/index.ts';
import type { Model, Params } from '../shared/models/types.ts';
import { inputProblem as describeInputProblem } from '../shared/models/validate.ts';
import { createSampler, PREDICTIONS, type Prediction } from '../shared/samplers/index.ts';
import { createSchedule, GAMMA_PREFIX, parseScheduleConfig, stepLimit } from '../shared/schedules/index.ts';
import type { NoiseSchedule } from '../shared/schedules/types.ts';
import { urlSource } from './url-source.ts';

export interface LoadedModel {
  manifest: Manifest;
  model: Model<unknown>;
  params: Params;
  schedule: NoiseSchedule;
  prediction: Prediction;
  /** An int8 checkpoint's stored weights by parameter name (empty otherwise): an engine outside tfjs keeps them int8. */
  int8Weights: ReadonlyMap<string, Int8Form>;
  /** Where it came from (folder path or URL). */
  location: string;
  /** Frees every parameter tensor, after what engines built from them (see onDispose). */
  dispose(): void;
  /** Runs `free` at dispose(): for what an engine built from the parameters (onnxruntime sessions). */
  onDispose(free: () => void): void;
}

/** Whether a model string names an http(s) URL prefix rather than a folder. */
export function isUrl(model: string): boolean {
  return /^https?:\/\//i.test(model);
}

/** A folder path or http(s) URL becomes a source; anything else passes through. */
export async function resolveSource(source: string | CheckpointSource): Promise<CheckpointSource> {
  if (typeof source !== 'string') return source;
  if (isUrl(source)) return urlSource(source);
  // Imported lazily so browser bundles never pull in node:fs.
  const { folderSource } = await import('./node/folder-source.ts');
  return folderSource(source);
}

export async function loadModel(
  source: string | CheckpointSource,
  opts: { onProgress?: (p: LoadProgress) => void } = {},
): Promise<LoadedModel> {
  const src = await resolveSource(source);
  const { manifest, tensors } = await loadCheckpoint(src, opts);
  // A checkpoint that decodes but does not fit its own model config is bad input too.
  const fail = (msg: string): never => {
    throw new CheckpointError(`${src.location}/manifest.json`, msg);
  };

  const prediction = (manifest.model.prediction ?? 'eps') as Prediction;
  if (!PREDICTIONS.includes(prediction)) fail(`model.prediction must be one of ${PREDICTIONS.join(', ')}`);

  let model: Model<unknown>;
  try {
    model = createModel(manifest.kind, manifest.model);
  } catch (e) {
    return fail((e as Error).message);
  }

  // The manifest's other fields must fit the network too.
  const numClasses = (model.config as { numClasses?: number }).numClasses ?? 0;
  if ((manifest.labels?.length ?? 0) !== numClasses) {
    fail(`labels lists ${manifest.labels?.length ?? 0} names but the model has ${numClasses} classes`);
  }
  // A latent model's images are what its decoder makes, not what its denoiser takes.
  const inputProblem = describeInputProblem(model.output ?? model.input, [...manifest.data.shape, manifest.data.channels]);
  if (inputProblem) fail(`data.shape/data.channels do not fit the model: ${inputProblem}`);
  try {
    createSampler(manifest.sampler.name);
  } catch (e) {
    fail(`sampler.name: ${(e as Error).message}`);
  }
  let maxSteps: number;
  try {
    maxSteps = stepLimit(parseScheduleConfig(manifest.schedule));
  } catch (e) {
    return fail((e as Error).message);
  }
  if (manifest.sampler.steps > maxSteps) {
    fail(`sampler.steps: ${manifest.sampler.steps} is more steps than the schedule has (at most ${maxSteps})`);
  }

  // The checkpoint must hold exactly the parameters the model config implies
  // (plus the learned schedule's gamma.* weights when it has one).
  const expected = new Map(model.paramSpecs.map((s) => [s.name, s.shape]));
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) fail(`parameter "${name}" is missing from the checkpoint`);
    else if (t.shape.join() !== shape.join()) fail(`parameter "${name}" has shape [${t.shape}], the model config needs [${shape}]`);
  }
  const learnedSchedule = manifest.schedule.kind === 'vdm-learned';
  const extra = [...tensors.keys()].filter((k) => !expected.has(k) && !(learnedSchedule && k.startsWith(GAMMA_PREFIX)));
  if (extra.length) fail(`unexpected parameters for kind ${manifest.kind}: ${extra.slice(0, 5).join(', ')}`);

  const params = hostToParams(tensors);
  try {
    let schedule: NoiseSchedule;
    try {
      schedule = createSchedule(manifest.schedule, params);
    } catch (e) {
      return fail((e as Error).message);
    }
    const frees: (() => void)[] = [];
    return {
      manifest,
      model,
      params,
      schedule,
      prediction,
      int8Weights: new Map([...tensors].flatMap(([name, t]) => (t.int8 ? [[name, t.int8] as const] : []))),
      location: src.location,
      dispose: () => {
        frees.splice(0).forEach((free) => free());
        tf.dispose([...params.values()]);
      },
      onDispose: (free) => frees.push(free),
    };
  } catch (e) {
    tf.dispose([...params.values()]);
    throw e;
  }
}
