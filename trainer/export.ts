// Export: a model and its parameters to the edge checkpoint format (DESIGN §4).
// Pure: returns the files; sampler/node/checkpoint-folder.ts writes them atomically.
import { encodeCheckpoint, type CheckpointMeta, type Manifest, type Quantization } from '../shared/checkpoint/index.ts';
import { paramsToHost } from '../shared/models/host.ts';
import type { Model, Params } from '../shared/models/types.ts';

/** Everything in a manifest that the model itself does not already say. */
export type ExportMeta = Omit<CheckpointMeta, 'kind' | 'model'>;

/**
 * Encodes `params` for `model`; the manifest's kind and model config come from
 * the model, so a checkpoint always describes the network that made it.
 * Every declared parameter must be present (extra ones, such as a learned
 * schedule's gamma.*, travel along).
 */
export async function exportCheckpoint(
  model: Model<unknown>,
  params: Params,
  meta: ExportMeta,
  quantization: Quantization,
  shardBytes?: number,
): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const missing = model.paramSpecs.filter((s) => !params.has(s.name)).map((s) => s.name);
  if (missing.length) throw new Error(`export: ${model.kind} parameters missing: ${missing.slice(0, 5).join(', ')}`);
  const config = model.config as Record<string, unknown>;
  const classes = typeof config.numClasses === 'number' ? config.numClasses : 0;
  if ((meta.labels?.length ?? 0) !== classes) {
    throw new Error(`export: the model has ${classes} classes but labels lists ${meta.labels?.length ?? 0} names`);
  }
  return encodeCheckpoint(paramsToHost(params), { ...meta, kind: model.kind, model: config }, { quantization, shardBytes });
}
