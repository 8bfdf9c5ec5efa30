// The training-state checkpoint both trainers write (diffusion: trainer.ts;
// VQ-GAN: vqgan/trainer.ts): every tensor group (parameters, EMA, optimiser
// moments, ...) under its own name prefix in one exact fp32 checkpoint, and
// the trainer's counters as `training.state` in its manifest, versioned and
// checked on load. One format and one reader, so save, load and resume work
// alike for every kind of run.
import type * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, encodeCheckpoint, loadCheckpoint, type CheckpointMeta, type CheckpointSource, type HostTensor } from '../shared/checkpoint/index.ts';
import { hostToParams, paramsToHost } from '../shared/models/host.ts';
import type { Params } from '../shared/models/types.ts';

/** The state record's format name and the integer counters it must carry (dotted paths, e.g. "rng.data"). */
export interface StateFormat {
  format: string;
  counters: readonly string[];
  /** "a training checkpoint", "a VQ-GAN training checkpoint": for the error when a folder is not one. */
  what: string;
}

/** Writes `groups` (prefix -> tensors) and raw host tensors with `state` in the manifest's training record. */
export async function saveState(
  groups: Readonly<Record<string, Map<string, tf.Tensor>>>,
  host: ReadonlyMap<string, HostTensor>,
  meta: Omit<CheckpointMeta, 'training'>,
  state: { format: string } & Record<string, unknown>,
): Promise<Map<string, Uint8Array>> {
  const tensors = new Map<string, HostTensor>();
  for (const [prefix, params] of Object.entries(groups)) for (const [k, v] of paramsToHost(params)) tensors.set(prefix + k, v);
  for (const [k, v] of host) tensors.set(k, v);
  return (await encodeCheckpoint(tensors, { ...meta, training: { state } }, { quantization: 'fp32' })).files;
}

export interface LoadedState<S> {
  state: S;
  /** The manifest's file, for errors. */
  file: string;
  tensors: Map<string, HostTensor>;
  /** The tensors under `prefix`, with the prefix taken off, as tfjs parameters. */
  group(prefix: string): Params;
}

/** Reads a saveState checkpoint; throws a CheckpointError naming the file unless its state record has `format` and sound counters. */
export async function loadState<S extends { format: string }>(source: CheckpointSource, f: StateFormat): Promise<LoadedState<S>> {
  const { manifest, tensors } = await loadCheckpoint(source);
  const file = `${source.location}/manifest.json`;
  const state = (manifest.training as { state?: S } | undefined)?.state;
  if (!state || state.format !== f.format) throw new CheckpointError(file, `not ${f.what} (no training.state of format ${f.format})`);
  const at = (path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], state);
  if (!f.counters.every((p) => Number.isSafeInteger(at(p)) && (at(p) as number) >= 0)) throw new CheckpointError(file, 'training.state counters must be non-negative integers');
  const group = (prefix: string) => hostToParams(new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v])));
  return { state, file, tensors, group };
}
