// Nearest-neighbour memorisation check: does the model reproduce training
// images? (The nearest-neighbour test of Carlini et al. 2023, "Extracting
// training data from diffusion models", in its simplest form: plain RMS
// distance, calibrated by real unseen images instead of a fixed cut-off.)
//
// Distances are RMS: d(x, y) = sqrt(mean_i (x_i - y_i)^2), in data units.
//   - per generated sample: d to its nearest training image (and which one),
//     and d to its nearest held-out image;
//   - the baseline: per held-out image, d to its nearest training image, i.e.
//     how close real images the model never saw come to the training set.
// Summary: the medians, ratio = median(sample -> train) / median(held-out ->
// train) (near 1 for novel samples, well below 1 when samples hug training
// images; null when the baseline median is 0, e.g. held-out duplicates of
// training images), and the flagged samples: those whose nearest training
// image is closer than `fraction` x median(held-out -> train) (default 0.5:
// twice as close as a typical unseen real image), with that training image.
// A flag is a pointer for a human to look at the pair, not proof of copying.
//
// Cost: brute force, (samples + held-out) x train distance evaluations, each
// abandoned as soon as its partial sum exceeds the best so far (exact).
import { z } from 'zod';
import { parseConfig } from '../../../shared/config.ts';
import { checkSet, median } from './common.ts';

export const MemorisationOptionsSchema = z.object({
  /** Flag samples nearer a training image than fraction x median(held-out -> train). */
  fraction: z.number().gt(0).max(1).default(0.5),
});
export type MemorisationOptions = z.input<typeof MemorisationOptionsSchema>;

export interface MemorisationReport {
  /** Per generated sample: RMS distance to the nearest training image. */
  sampleToTrain: number[];
  /** Per generated sample: index of that nearest training image. */
  nearestTrain: number[];
  /** Per generated sample: RMS distance to the nearest held-out image. */
  sampleToHeldOut: number[];
  /** Per held-out image: RMS distance to the nearest training image (the baseline). */
  heldOutToTrain: number[];
  median: { sampleToTrain: number; sampleToHeldOut: number; heldOutToTrain: number };
  /** median.sampleToTrain / median.heldOutToTrain; null when the baseline median is 0. */
  ratio: number | null;
  fraction: number;
  /** fraction x median.heldOutToTrain. */
  threshold: number;
  /** Samples whose nearest training distance is below the threshold, with that training image. */
  flagged: { sample: number; train: number; distance: number }[];
}

/** The nearest image of `set` to `x` (first on ties) and its RMS distance. */
export function nearest(x: Float32Array, set: readonly Float32Array[]): { index: number; distance: number } {
  let best = -1;
  let bestSum = Infinity;
  for (let k = 0; k < set.length; k++) {
    const y = set[k];
    let s = 0;
    for (let i = 0; i < x.length && s < bestSum; i++) s += (x[i] - y[i]) ** 2; // abandon once no better
    if (s < bestSum) {
      bestSum = s;
      best = k;
    }
  }
  return { index: best, distance: Math.sqrt(bestSum / x.length) };
}

/** The memorisation check of `samples` against `train`, with `heldOut` real images as the baseline (see the top of this file). */
export function memorisation(
  samples: readonly Float32Array[],
  train: readonly Float32Array[],
  heldOut: readonly Float32Array[],
  options: MemorisationOptions = {},
): MemorisationReport {
  const { fraction } = parseConfig(MemorisationOptionsSchema, options, '');
  const size = train[0]?.length ?? 0;
  checkSet(train, size, 'train');
  checkSet(samples, size, 'samples');
  checkSet(heldOut, size, 'heldOut');
  const toTrain = samples.map((s) => nearest(s, train));
  const heldOutToTrain = heldOut.map((h) => nearest(h, train).distance);
  const sampleToTrain = toTrain.map((t) => t.distance);
  const sampleToHeldOut = samples.map((s) => nearest(s, heldOut).distance);
  const m = { sampleToTrain: median(sampleToTrain), sampleToHeldOut: median(sampleToHeldOut), heldOutToTrain: median(heldOutToTrain) };
  const threshold = fraction * m.heldOutToTrain;
  return {
    sampleToTrain,
    nearestTrain: toTrain.map((t) => t.index),
    sampleToHeldOut,
    heldOutToTrain,
    median: m,
    ratio: m.heldOutToTrain > 0 ? m.sampleToTrain / m.heldOutToTrain : null,
    fraction,
    threshold,
    flagged: toTrain.flatMap((t, sample) => (t.distance < threshold ? [{ sample, train: t.index, distance: t.distance }] : [])),
  };
}
