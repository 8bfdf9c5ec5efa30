// AdamW, the learning-rate schedule and EMA against hand-computed updates.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, learningRate } from '../../../trainer/optim/adamw.ts';
import { Ema } from '../../../trainer/optim/ema.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';

const config = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 0 };

describe.each(TEST_BACKENDS)('optimisers on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('AdamW: two steps match Algorithm 2 by hand, decaying matrices but not vectors', () => {
    const opt = new AdamW(config);
    const params = new Map<string, tf.Tensor>([['w', tf.tensor2d([[1, -2]])], ['b', tf.tensor1d([0.5])]]);
    const grads1 = new Map<string, tf.Tensor>([['w', tf.tensor2d([[0.5, 0.1]])], ['b', tf.tensor1d([-0.2])]]);
    const grads2 = new Map<string, tf.Tensor>([['w', tf.tensor2d([[-0.3, 0.1]])], ['b', tf.tensor1d([0.4])]]);
    const before = tf.memory().numTensors;
    opt.update(params, grads1, 0.1);
    opt.update(params, grads2, 0.05);
    // Two optimiser moments per parameter are the only new tensors.
    expect(tf.memory().numTensors).toBe(before + 4);

    const by = (p0: number, gs: number[], lrs: number[], decay: boolean) => {
      let [p, m, v] = [p0, 0, 0];
      gs.forEach((g, k) => {
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        const step = m / (1 - 0.9 ** (k + 1)) / (Math.sqrt(v / (1 - 0.999 ** (k + 1))) + 1e-8);
        p -= lrs[k] * (step + (decay ? 0.01 * p : 0));
      });
      return p;
    };
    const [w0, w1] = params.get('w')!.dataSync();
    expect(w0).toBeCloseTo(by(1, [0.5, -0.3], [0.1, 0.05], true), 6);
    expect(w1).toBeCloseTo(by(-2, [0.1, 0.1], [0.1, 0.05], true), 6);
    expect(params.get('b')!.dataSync()[0]).toBeCloseTo(by(0.5, [-0.2, 0.4], [0.1, 0.05], false), 6);
    opt.dispose();
    tf.dispose([...params.values(), ...grads1.values(), ...grads2.values()]);
  });

  it('AdamW: clips the global gradient norm and reports it, and refuses a non-finite one', () => {
    const params = new Map([['p', tf.tensor1d([0, 0])]]);
    const opt = new AdamW({ ...config, clipNorm: 1 });
    const g = new Map([['p', tf.tensor1d([3, 4])]]);
    expect(opt.update(params, g, 0.1)).toBeCloseTo(5, 5);
    // After clipping to norm 1 the first Adam step is lr * sign(g) regardless: check the moment instead.
    expect(Array.from(opt.m.get('p')!.dataSync()).map((v) => Number(v.toFixed(6)))).toEqual([0.06, 0.08]);
    const bad = new Map([['p', tf.tensor1d([NaN, 1])]]);
    expect(() => opt.update(params, bad, 0.1)).toThrow(/non-finite gradient norm/);
    opt.dispose();
    tf.dispose([...params.values(), ...g.values(), ...bad.values()]);
  });

  it('EMA: starts at the parameters and follows min(decay, (1+n)/(10+n))', () => {
    const ema = new Ema(0.99);
    const p = tf.tensor1d([1]);
    ema.update(new Map([['p', p]]));
    const q = tf.tensor1d([3]);
    ema.update(new Map([['p', q]]));
    const d = Math.min(0.99, 2 / 11);
    expect(ema.shadow.get('p')!.dataSync()[0]).toBeCloseTo(d * 1 + (1 - d) * 3, 6);
    ema.dispose();
    tf.dispose([p, q]);
  });
});

describe('learningRate', () => {
  it('warms up linearly, then decays by a half cosine to the floor', () => {
    expect(learningRate(0, 1, 10, 110)).toBeCloseTo(0.1, 12);
    expect(learningRate(9, 1, 10, 110)).toBeCloseTo(1, 12);
    expect(learningRate(10, 1, 10, 110)).toBeCloseTo(1, 12);
    expect(learningRate(60, 1, 10, 110)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(learningRate(110, 1, 10, 110)).toBeCloseTo(0.1, 12);
    expect(learningRate(500, 1, 10, 110)).toBeCloseTo(0.1, 12);
  });
});
