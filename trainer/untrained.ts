// An untrained checkpoint from a preset: the model's seeded init (plus the
// learned schedule's initial gamma weights for VDM), exported as-is.
import type { Quantization } from '../shared/checkpoint/index.ts';
import { createModel } from '../shared/models/index.ts';
import { initScheduleParams, parseScheduleConfig } from '../shared/schedules/index.ts';
import { exportCheckpoint } from './export.ts';
import { getPreset } from './presets.ts';

export async function untrainedCheckpoint(presetName: string, seed: number, quantization: Quantization) {
  const preset = getPreset(presetName);
  const model = createModel(preset.kind, preset.model);
  const params = model.init(seed);
  for (const [k, v] of initScheduleParams(parseScheduleConfig(preset.meta.schedule), seed)) params.set(k, v);
  try {
    return await exportCheckpoint(model, params, { ...preset.meta, training: { steps: 0, note: 'untrained: seeded initialisation only' } }, quantization);
  } finally {
    for (const t of params.values()) t.dispose();
  }
}
