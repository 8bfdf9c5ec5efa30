// The backend self-test (sampler/self-test.ts): it passes on every
// test backend against its float64 reference, frees its tensors, and its
// check rejects what a broken backend returns (NaN, all zeros, wrong values).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SELF_TEST_TOLERANCE, selfTest, selfTestCompute, selfTestProblem, selfTestReference } from '../../sampler/self-test.ts';
import { TEST_BACKENDS, useBackend } from '../backends.ts';

describe.each(TEST_BACKENDS)('self-test on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('matches the float64 reference to float32 rounding', async () => {
    const error = await selfTest();
    expect(error).toBeLessThan(1e-6);
  });

  it('frees every tensor it makes', async () => {
    await selfTestCompute(); // kernels and constants warm
    const before = tf.memory().numTensors;
    await selfTest();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('self-test check', () => {
  const ref = selfTestReference();

  it('has a reference strictly inside (0, 1): sigmoid and softmax outputs', () => {
    expect(ref.length).toBe(160);
    expect(ref.every((v) => v > 0 && v < 1)).toBe(true);
    // Each softmax row sums to 1.
    for (let r = 0; r < 16; r++) expect(ref.slice(80 + 5 * r, 85 + 5 * r).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('accepts the reference and float32 rounding of it', () => {
    expect(selfTestProblem(ref, ref)).toBeUndefined();
    expect(selfTestProblem(Float32Array.from(ref), ref)).toBeUndefined();
  });

  it('rejects NaN, all zeros, stray zeros, wrong values and wrong lengths', () => {
    const nan = Float32Array.from(ref);
    nan[3] = NaN;
    expect(selfTestProblem(nan, ref)).toMatch(/1 non-finite/);
    expect(selfTestProblem(new Float32Array(ref.length), ref)).toBe('self-test returned all zeros');
    const zero = Float32Array.from(ref);
    zero[7] = 0;
    expect(selfTestProblem(zero, ref)).toMatch(/1 zeros/);
    const off = Float32Array.from(ref);
    off[100] += 2 * SELF_TEST_TOLERANCE;
    expect(selfTestProblem(off, ref)).toMatch(/off by up to 2\.00e-3/);
    expect(selfTestProblem(ref.slice(1), ref)).toMatch(/159 values, expected 160/);
  });
});
