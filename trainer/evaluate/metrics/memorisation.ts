// A nearest-neighbour memorisation check. A model that copies its training
// data puts samples much closer to some training image than real unseen
// images ever are. For each sample: the RMS distance to its nearest training
// image and to its nearest held-out image; as the baseline, each held-out
// image's distance to its nearest training image (how close "new but real"
// gets). A sample is flagged when its nearest training image is closer than
// `fraction` (default 0.5) of the median held-out baseline.
import { checkSet, median } from './common.ts';

export interface MemorisationReport {
  /** Medians over samples of the nearest-training and nearest-held-out distances. */
  sampleToTrain: number;
  sampleToHeldOut: number;
  /** Median over held-out images of the nearest-training distance (the baseline). */
  heldOutToTrain: number;
  /** sampleToTrain / heldOutToTrain: near 1 for novel samples, near 0 for copies. */
  ratio: number;
  fraction: number;
  /** Samples closer to a training image than fraction x the baseline, with that image. */
  flagged: { sample: number; train: number; distance: number }[];
}

/** RMS distance between equal-length arrays. */
export function rmsDistance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / a.length);
}

function nearest(x: Float32Array, set: readonly Float32Array[]): { index: number; distance: number } {
  let best = { index: -1, distance: Infinity };
  set.forEach((y, i) => {
    const d = rmsDistance(x, y);
    if (d < best.distance) best = { index: i, distance: d };
  });
  return best;
}

export function memorisation(samples: readonly Float32Array[], train: readonly Float32Array[], heldOut: readonly Float32Array[], fraction = 0.5): MemorisationReport {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`fraction: expected a number in (0, 1], got ${fraction}`);
  const shape = [samples[0]?.length ?? 0, 1];
  checkSet(samples, shape, 'samples');
  checkSet(train, shape, 'train');
  checkSet(heldOut, shape, 'heldOut');
  const toTrain = samples.map((s) => nearest(s, train));
  const toHeld = samples.map((s) => nearest(s, heldOut).distance);
  const baseline = median(heldOut.map((h) => nearest(h, train).distance));
  const flagged = toTrain.flatMap((t, sample) => (t.distance < fraction * baseline ? [{ sample, train: t.index, distance: t.distance }] : []));
  const sampleToTrain = median(toTrain.map((t) => t.distance));
  return {
    sampleToTrain,
    sampleToHeldOut: median(toHeld),
    heldOutToTrain: baseline,
    ratio: baseline > 0 ? sampleToTrain / baseline : Infinity,
    fraction,
    flagged,
  };
}
