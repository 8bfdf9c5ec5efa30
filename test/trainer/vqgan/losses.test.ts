// The loss terms against hand-computed values, and the PatchGAN
// discriminators' shapes, on every backend; none leaks tensors.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initParams, ParamList } from '../../../shared/models/params.ts';
import { Rng } from '../../../shared/rng.ts';
import { declarePatchGan, patchGan } from '../../../trainer/vqgan/discriminator.ts';
import { commitmentLoss, featureMatchingLoss, hingeDiscriminatorLoss, hingeGeneratorLoss, l1Loss } from '../../../trainer/vqgan/losses.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const scalar = (f: () => tf.Scalar) => {
  const t = f();
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

describe.each(TEST_BACKENDS)('vqgan losses and discriminators on %s', (backend) => {
  it('hinge losses: D = 0.5 (mean relu(1 - real) + mean relu(1 + fake)), G = -mean fake', async () => {
    await useBackend(backend);
    const real = tf.tensor1d([2, 0.5, -1]); // relu(1 - r) = [0, 0.5, 2] -> mean 5/6
    const fake = tf.tensor1d([-2, 0, 1.5, 0.5]); // relu(1 + f) = [0, 1, 2.5, 1.5] -> mean 1.25
    expect(scalar(() => hingeDiscriminatorLoss(real, fake))).toBeCloseTo(0.5 * (5 / 6 + 1.25), 6);
    expect(scalar(() => hingeGeneratorLoss(fake))).toBeCloseTo(-0, 6);
    expect(scalar(() => hingeGeneratorLoss(real))).toBeCloseTo(-0.5, 6);
    // A perfect discriminator (margins met) has zero loss.
    expect(scalar(() => hingeDiscriminatorLoss(tf.fill([3], 1.5), tf.fill([3], -1.5)))).toBe(0);
    tf.dispose([real, fake]);
  });

  it('L1, commitment MSE, and feature matching (4 / n) sum_i mean |f_i - r_i|; no loss leaks', async () => {
    await useBackend(backend);
    const a = tf.tensor1d([1, 2, 3, 4]);
    const b = tf.tensor1d([1, 0, 4, 4]);
    expect(scalar(() => l1Loss(a, b))).toBeCloseTo(3 / 4, 6);
    expect(scalar(() => commitmentLoss(a, b))).toBeCloseTo(5 / 4, 6);
    const c = tf.tensor2d([[0, 1], [2, 3]]);
    const d = tf.zeros([2, 2]);
    // Two maps: (4 / 2) (0.75 + 1.5).
    expect(scalar(() => featureMatchingLoss([a, c], [b, d]))).toBeCloseTo(2 * (0.75 + 1.5), 6);
    expect(() => featureMatchingLoss([a], [b, d])).toThrow(/feature maps/);
    const before = tf.memory().numTensors;
    tf.dispose([l1Loss(a, b), commitmentLoss(a, b), featureMatchingLoss([a, c], [b, d]), hingeDiscriminatorLoss(a, b), hingeGeneratorLoss(a)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, c, d]);
  });

  it.each([2, 3] as const)('the %iD PatchGAN gives per-patch logits and layers + 1 feature maps, and frees its intermediates', async (dims) => {
    await useBackend(backend);
    const cfg = { channels: 4, layers: 3, groups: 4 };
    const p = new ParamList();
    declarePatchGan(p, 'd', dims, 1, cfg);
    const params = initParams(p.specs, 1);
    const size = dims === 2 ? [2, 16, 8, 1] : [2, 8, 16, 8, 1];
    const x = tf.tensor(new Rng(2).normal(size.reduce((u, v) => u * v, 1)), size);
    const before = tf.memory().numTensors;
    const { logits, features } = patchGan(params, 'd', dims, x, cfg);
    // Three stride-2 layers then two stride-1 ones: spatial / 8, one channel.
    expect(logits.shape).toEqual([2, ...size.slice(1, -1).map((s) => s / 8), 1]);
    expect(features.map((f) => f.shape[f.rank - 1])).toEqual([4, 8, 16, 32]);
    expect(features[0].shape).toEqual([2, ...size.slice(1, -1).map((s) => s / 2), 4]);
    tf.dispose([logits, ...features]);
    const g = tf.grads((v) => tf.sum(patchGan(params, 'd', dims, v, cfg).logits))([x]);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...params.values()]);
  });
});
