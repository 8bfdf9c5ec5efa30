// Classifier two-sample test (Lopez-Paz and Oquab 2017): a small network is
// trained to tell real images from generated ones, and its accuracy on images
// it did not train on says how far apart the two sets are. Reported as the
// area under the ROC curve of out-of-fold scores: 0.5 = the classifier cannot
// tell them apart, 1 = every generated image is recognised.
//
// No pretrained network: a 3-layer CNN (3x3 convs with stride 2 and 8, 16,
// 32 channels, SiLU, global mean, one logit; on images average-pooled to at
// most `maxSide` pixels a side) trained from a seeded init with
// AdamW on the logistic loss, full batch, in k stratified folds: each image
// is scored by the network trained on the other folds. Small sets give a
// noisy AUC, so the same procedure with the real/generated labels shuffled
// (`permutations` times) gives the baseline a chance split reaches: an AUC
// above its 95th percentile is a difference the classifier found.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // registers the gradients of tfjs's ops (tfjs-core alone has none, DESIGN §5)
import { z } from 'zod';
import { parseConfig } from '../../../shared/config.ts';
import { conv2d, dense, silu } from '../../../shared/models/layers.ts';
import { initParams, ParamList } from '../../../shared/models/params.ts';
import type { Params } from '../../../shared/models/types.ts';
import { Rng } from '../../../shared/rng.ts';
import { AdamW } from '../../optim/adamw.ts';
import { checkSet, checkShape, MetricError, sizeOf } from './common.ts';

export const C2stOptionsSchema = z.object({
  folds: z.number().int().min(2).max(20).default(4),
  /** Full-batch AdamW steps per fold. */
  steps: z.number().int().min(1).max(10_000).default(60),
  lr: z.number().positive().max(1).default(3e-3),
  /** Label-shuffled repeats for the chance baseline (0: none). */
  permutations: z.number().int().min(0).max(1000).default(10),
  /** Images are average-pooled by an integer factor until their longer side is at most this (speed: a 64x64 step costs 4x a 32x32 one). */
  maxSide: z.number().int().min(8).max(4096).default(32),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
});
export type C2stOptions = z.input<typeof C2stOptionsSchema>;

export interface C2stReport {
  /** Out-of-fold ROC AUC of "generated" scores. */
  auc: number;
  /** The AUC of label-shuffled runs: their mean and 95th percentile (null without permutations). */
  chance: { mean: number; p95: number } | null;
  real: number;
  generated: number;
}

const CHANNELS = [8, 16, 32];

function declare(): ParamList {
  const p = new ParamList();
  CHANNELS.forEach((c, i) => p.conv(`c2st.conv${i}`, 3, i === 0 ? 1 : CHANNELS[i - 1], c));
  p.dense('c2st.out', CHANNELS[CHANNELS.length - 1], 1);
  return p;
}

/** x [N, H, W, 1] -> logits [N]. */
function logits(params: Params, x: tf.Tensor4D): tf.Tensor1D {
  let h = x;
  CHANNELS.forEach((_, i) => (h = silu(conv2d(params, `c2st.conv${i}`, h, 2)) as tf.Tensor4D));
  return tf.reshape(dense(params, 'c2st.out', tf.mean(h, [1, 2]) as tf.Tensor2D), [-1]);
}

/** ROC AUC of `scores` for `positive` labels (Mann-Whitney U / (n+ n-), ties counted half). */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  let pos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const rank = (i + j) / 2 + 1; // the tie group's mean rank (1-based)
    for (let k = i; k <= j; k++) if (positive[idx[k]]) {
      rankSum += rank;
      pos++;
    }
    i = j + 1;
  }
  const neg = scores.length - pos;
  if (pos === 0 || neg === 0) throw new MetricError('labels', 'both classes are needed for an AUC');
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** `items` in a seeded random order (sorted by uniform keys). */
function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const keys = rng.uniform(items.length);
  return items.map((item, k) => [keys[k], item] as const).sort((a, b) => a[0] - b[0]).map(([, item]) => item);
}

/** Fold of each example: each class dealt round-robin in a seeded order, so every fold holds both. */
function stratifiedFolds(labels: readonly boolean[], folds: number, rng: Rng): number[] {
  const fold = new Array<number>(labels.length);
  for (const cls of [false, true]) shuffled(labels.flatMap((l, i) => (l === cls ? [i] : [])), rng).forEach((m, k) => (fold[m] = k % folds));
  return fold;
}

/** Out-of-fold "generated" scores of every image for these labels. */
function outOfFoldScores(x: tf.Tensor4D, labels: readonly boolean[], o: z.output<typeof C2stOptionsSchema>, seed: number): Float32Array {
  const rng = new Rng(seed, 1);
  const fold = stratifiedFolds(labels, o.folds, rng);
  const scores = new Float32Array(labels.length);
  const specs = declare().specs;
  for (let f = 0; f < o.folds; f++) {
    const train = labels.flatMap((_, i) => (fold[i] !== f ? [i] : []));
    const test = labels.flatMap((_, i) => (fold[i] === f ? [i] : []));
    if (test.length === 0) continue;
    const params = initParams(specs, seed + f);
    const opt = new AdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4, clipNorm: 1 });
    const xs = tf.gather(x, train);
    const ys = tf.tensor1d(train.map((i) => (labels[i] ? 1 : 0)));
    try {
      const names = [...params.keys()];
      for (let s = 0; s < o.steps; s++) {
        const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) =>
          tf.losses.sigmoidCrossEntropy(ys, logits(new Map(names.map((n, i) => [n, ps[i]])), xs as tf.Tensor4D)) as tf.Scalar,
        )(names.map((n) => params.get(n)!));
        try {
          opt.update(params, new Map(names.map((n, i) => [n, grads[i]])), o.lr);
        } finally {
          tf.dispose([value, ...grads]);
        }
      }
      const out = tf.tidy(() => logits(params, tf.gather(x, test) as tf.Tensor4D));
      const values = out.dataSync();
      out.dispose();
      test.forEach((i, k) => (scores[i] = values[k]));
    } finally {
      tf.dispose([xs, ys, ...params.values()]);
      opt.dispose();
    }
  }
  return scores;
}

/**
 * The two-sample test of `real` against `generated` 2D images of `shape`
 * (model space), with a label-shuffled chance baseline.
 */
export function c2st(real: readonly Float32Array[], generated: readonly Float32Array[], shape: readonly number[], options: C2stOptions = {}): C2stReport {
  const o = parseConfig(C2stOptionsSchema, options, 'c2st');
  checkShape(shape);
  if (shape.length !== 2) throw new MetricError('shape', `expected [H, W] (2D images; give volumes as slices), got [${shape.join(', ')}]`);
  checkSet(real, sizeOf(shape), 'real');
  checkSet(generated, sizeOf(shape), 'generated');
  if (Math.min(real.length, generated.length) < o.folds) {
    throw new MetricError(real.length < o.folds ? 'real' : 'generated', `${Math.min(real.length, generated.length)} images, the ${o.folds} folds need at least one of each set per fold`);
  }
  const [h, w] = shape;
  const all = [...real, ...generated];
  const data = new Float32Array(all.length * h * w);
  all.forEach((im, i) => data.set(im, i * h * w));
  const factor = Math.ceil(Math.max(h, w) / o.maxSide);
  const x = tf.tidy(() => {
    const full = tf.tensor4d(data, [all.length, h, w, 1]);
    return factor > 1 ? (tf.avgPool(full, factor, factor, 'valid') as tf.Tensor4D) : full;
  });
  const labels = all.map((_, i) => i >= real.length);
  try {
    const auc = rocAuc(outOfFoldScores(x, labels, o, o.seed), labels);
    let chance: C2stReport['chance'] = null;
    if (o.permutations > 0) {
      const aucs: number[] = [];
      for (let p = 0; p < o.permutations; p++) {
        const permuted = shuffled(labels, new Rng(o.seed, 2 + p));
        aucs.push(rocAuc(outOfFoldScores(x, permuted, o, o.seed + 1000 * (p + 1)), permuted));
      }
      const sorted = aucs.sort((a, b) => a - b);
      chance = { mean: aucs.reduce((s, v) => s + v, 0) / aucs.length, p95: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] };
    }
    return { auc, chance, real: real.length, generated: generated.length };
  } finally {
    x.dispose();
  }
}
