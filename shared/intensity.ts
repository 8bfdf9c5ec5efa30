// The map from model space ([-1, 1]) back to real intensity units, stored in
// every checkpoint's manifest (`data.intensity`, DESIGN §3.4 and §4).
import { z } from 'zod';

export const IntensityMappingSchema = z.discriminatedUnion('kind', [
  // Min-max scaling (e.g. 8-bit radiographs: low 0, high 255).
  z.object({
    kind: z.literal('linear'),
    low: z.number().finite(),
    high: z.number().finite(),
    unit: z.string().max(32).default(''),
    /** Set when training windowed each image on its own percentiles (radiographs); low..high are then display grey levels. */
    window: z.object({ pLow: z.number().min(0).max(100), pHigh: z.number().min(0).max(100) }).optional(),
  }),
  // CT: x = (HU - level) / (width / 2), clipped to [-1, 1].
  z.object({
    kind: z.literal('hu-window'),
    level: z.number().finite(),
    width: z.number().finite().positive(),
  }),
  // Nyul-Udupa standardisation: `scale` holds the learned standard-scale
  // landmarks at `percentiles`; model space spans [scale[0], scale[last]].
  z.object({
    kind: z.literal('nyul'),
    percentiles: z.array(z.number().min(0).max(100)).min(2).max(64),
    scale: z.array(z.number().finite()).min(2).max(64),
    unit: z.string().max(32).default(''),
  }),
]);
export type IntensityMapping = z.infer<typeof IntensityMappingSchema>;

/** Real-unit range [lo, hi] that model space [-1, 1] maps onto. */
export function realRange(m: IntensityMapping): [number, number] {
  switch (m.kind) {
    case 'linear':
      return [m.low, m.high];
    case 'hu-window':
      return [m.level - m.width / 2, m.level + m.width / 2];
    case 'nyul':
      return [m.scale[0], m.scale[m.scale.length - 1]];
  }
}

/** The unit label a viewer should show ("HU" for CT windows). */
export function realUnit(m: IntensityMapping): string {
  return m.kind === 'hu-window' ? 'HU' : m.unit;
}

/** Maps model-space values (clipped to [-1, 1]) to real units, in place into a new array. */
export function toRealUnits(x: Float32Array, m: IntensityMapping): Float32Array {
  const [lo, hi] = realRange(m);
  const half = (hi - lo) / 2;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.max(-1, Math.min(1, x[i]));
    out[i] = lo + (v + 1) * half;
  }
  return out;
}
