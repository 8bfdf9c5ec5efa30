// What `medsynth train --config` takes: a preset name or a JSON file, with
// `--set path=value` overrides of any field, validated in one place.
//
//   { "preset": "brain-mri-2d-64",                  base network, schedule, data layout
//     "model": { "baseChannels": 16 },              merged over the preset's model config
//     "meta": { "sampler": { "steps": 25 } },       merged over the preset's manifest fields
//     "train": { "steps": 500, "lr": 1e-3 },        trainer/config.ts
//     "data": { ... },                              preprocessing (trainer/preprocess)
//     "dataByLabel": { "ct": { ... } },             per class, merged over "data" (CT beside MRI)
//     "heldOut": "slabs" }                          a one-volume class's held-out slices: "slabs" or "tail"
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, parseConfig } from '../shared/config.ts';
import { getPreset, presetNames } from './presets.ts';
import type { TrainSpec } from './trainer.ts';

const RunConfigSchema = z.strictObject({
  preset: z.string(),
  model: z.record(z.string(), z.unknown()).default({}),
  meta: z.record(z.string(), z.unknown()).default({}),
  train: z.record(z.string(), z.unknown()).default({}),
  data: z.record(z.string(), z.unknown()).default({}),
  dataByLabel: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** How a one-volume class's slices are held out (trainer/dataset.ts sliceSplit). */
  heldOut: z.enum(['tail', 'slabs']).default('slabs'),
});
export type RunConfig = z.infer<typeof RunConfigSchema>;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** b merged over a, recursively for plain objects (arrays and values replace). */
export function deepMerge(a: Json, b: Json): Json {
  const out: Json = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  return out;
}

/**
 * Applies `path=value` overrides ("train.lr=1e-3", "model.channelMult=[1,2]");
 * values are JSON where they parse as JSON, strings otherwise.
 */
export function applyOverrides(config: Json, sets: readonly string[]): Json {
  let out = config;
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError('--set', `expected path=value, got "${s}"`);
    const path = s.slice(0, eq).split('.');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw new ConfigError('--set', `bad field path "${s.slice(0, eq)}"`);
    }
    const raw = s.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a bare string such as preset=brain-mri-2d-64
    }
    const patch: Json = {};
    path.reduce<Json>((node, key, i) => (node[key] = i === path.length - 1 ? value : {}) as Json, patch);
    out = deepMerge(out, patch);
  }
  return out;
}

/** Reads `--config` (a preset name or a JSON file) and applies the overrides. */
export async function loadRunConfig(config: string, sets: readonly string[] = []): Promise<RunConfig> {
  let raw: Json;
  if (presetNames().includes(config)) raw = { preset: config };
  else if (config.endsWith('.json')) {
    let text: string;
    try {
      text = await readFile(config, 'utf8');
    } catch (e) {
      throw new ConfigError('--config', `cannot read ${config}: ${(e as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as Json;
    } catch (e) {
      throw new ConfigError('--config', `${config} is not valid JSON (${(e as Error).message})`);
    }
  } else throw new ConfigError('--config', `expected a preset (${presetNames().join(', ')}) or a .json file, got "${config}"`);
  const merged = parseConfig(RunConfigSchema, applyOverrides(raw, sets), 'config');
  getPreset(merged.preset); // names the presets when unknown
  return merged;
}

/** The training settings of a run: the preset's, with the config's over them. */
export function trainSettings(c: RunConfig): Record<string, unknown> {
  return deepMerge(getPreset(c.preset).train ?? {}, c.train);
}

/** The network, schedule and manifest fields of a run: the preset with the config's changes. */
export function trainSpec(c: RunConfig): TrainSpec {
  const preset = getPreset(c.preset);
  return {
    kind: preset.kind,
    model: deepMerge(preset.model, c.model),
    meta: deepMerge(preset.meta as unknown as Json, c.meta) as unknown as TrainSpec['meta'],
  };
}
