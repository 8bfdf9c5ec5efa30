import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeDenoiser, type Net } from '../../../shared/samplers/index.ts';
import { toDenoised } from '../../../shared/schedules/prediction.ts';
import { createSchedule } from '../../../shared/schedules/index.ts';
import { useBackend } from '../../backends.ts';

beforeAll(() => useBackend('cpu'));

const tp = { t: 0.5, alpha: 0.6, sigma: 0.8 };

describe('prediction parameterisations', () => {
  // Ground truth: x0 and eps known, x_t = alpha x0 + sigma eps, v = alpha eps - sigma x0.
  const x0 = [0.5, -0.25, 0.9];
  const eps = [1.2, -0.3, 0.1];
  const xt = x0.map((v, i) => tp.alpha * v + tp.sigma * eps[i]);
  const v = x0.map((x, i) => tp.alpha * eps[i] - tp.sigma * x);

  it.each([
    ['eps', eps],
    ['x0', x0],
    ['v', v],
  ] as const)('%s output converts to the true (x0, eps)', (prediction, out) => {
    const before = tf.memory().numTensors;
    const o = tf.tensor1d(out);
    const x = tf.tensor1d(xt);
    const d = toDenoised(o, x, tp, prediction, false);
    Array.from(d.x0.dataSync()).forEach((val, i) => expect(val).toBeCloseTo(x0[i], 5));
    Array.from(d.eps.dataSync()).forEach((val, i) => expect(val).toBeCloseTo(eps[i], 5));
    tf.dispose([o, x, d.x0, d.eps]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('clipX0 clips x0_hat to [-1, 1] and keeps eps consistent with it', () => {
    const x = tf.tensor1d([3, -3]);
    const d = toDenoised(tf.zeros([2]), x, tp, 'eps', true);
    expect(Array.from(d.x0.dataSync())).toEqual([1, -1]);
    // x = alpha x0 + sigma eps must still hold.
    const back = tf.add(tf.mul(d.x0, tp.alpha), tf.mul(d.eps, tp.sigma));
    Array.from(back.dataSync()).forEach((val, i) => expect(val).toBeCloseTo([3, -3][i], 5));
  });
});

describe('makeDenoiser', () => {
  const schedule = createSchedule({ kind: 'vdm-fixed-linear' });
  // A stand-in network whose output reveals its inputs: t + 10 * label (+ x).
  const net: Net = (x, t, labels) =>
    tf.tidy(() => {
      const l = tf.tensor1d(labels ? Array.from(labels) : Array<number>(x.shape[0]).fill(0));
      return tf.add(x, tf.reshape(tf.add(t, tf.mul(l, 10)), [-1, 1]));
    });

  it('feeds the schedule network time (normalised gamma for VDM)', async () => {
    const d = makeDenoiser({ net, schedule, prediction: 'x0', clipX0: false });
    const x = tf.zeros([2, 3]);
    const { x0 } = await d(x, { t: 0.25, alpha: 0.5, sigma: Math.sqrt(0.75) });
    expect(x0.dataSync()[0]).toBeCloseTo(schedule.networkTime(0.25), 6);
    expect(schedule.networkTime(0.25)).toBeCloseTo(0.25, 6);
  });

  it('classifier-free guidance: out = out_null + w (out_label - out_null), in one batched call', async () => {
    let calls = 0;
    const counted: Net = (x, t, label) => {
      calls++;
      return net(x, t, label);
    };
    const before = tf.memory().numTensors;
    const d = makeDenoiser({ net: counted, schedule, prediction: 'x0', clipX0: false, labels: [1, 2], nullLabel: 3, guidance: 2.5 });
    const x = tf.zeros([2, 1]);
    const { x0, eps } = await d(x, { t: 0, alpha: 1, sigma: 0.1 });
    const tNet = schedule.networkTime(0);
    // null label 3 -> 30; labels 1, 2 -> 10, 20.
    const expected = [1, 2].map((l) => tNet + 30 + 2.5 * (10 * l - 30));
    Array.from(x0.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
    expect(calls).toBe(1);
    tf.dispose([x, x0, eps]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('guidance 1 is the plain conditional call: one network call on the batch as it is, not doubled', async () => {
    const batches: number[] = [];
    const counted: Net = (x, t, label) => {
      batches.push(x.shape[0]);
      return net(x, t, label);
    };
    const d = makeDenoiser({ net: counted, schedule, prediction: 'x0', clipX0: false, labels: [1, 2], nullLabel: 3, guidance: 1 });
    const x = tf.zeros([2, 1]);
    const { x0, eps } = await d(x, { t: 0, alpha: 1, sigma: 0.1 });
    expect(Array.from(x0.dataSync())).toEqual([1, 2].map((l) => Math.fround(schedule.networkTime(0) + 10 * l)));
    expect(batches).toEqual([2]);
    tf.dispose([x, x0, eps]);
  });

  it('runs an asynchronous net (an engine outside tfjs) the same way, freeing the doubled batch even when the call fails', async () => {
    const later: Net = async (x, t, labels) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return net(x, t, labels);
    };
    const before = tf.memory().numTensors;
    const d = makeDenoiser({ net: later, schedule, prediction: 'x0', clipX0: false, labels: [1, 2], nullLabel: 3, guidance: 2.5 });
    const x = tf.zeros([2, 1]);
    const { x0, eps } = await d(x, { t: 0, alpha: 1, sigma: 0.1 });
    const tNet = schedule.networkTime(0);
    Array.from(x0.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(tNet + 30 + 2.5 * (10 * (i + 1) - 30), 4));
    tf.dispose([x0, eps]);
    const failing = makeDenoiser({ net: async () => Promise.reject(new Error('session lost')), schedule, prediction: 'x0', clipX0: false, labels: [1, 2], nullLabel: 3, guidance: 2.5 });
    await expect(failing(x, { t: 0, alpha: 1, sigma: 0.1 })).rejects.toThrow('session lost');
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses guidance without a label', () => {
    expect(() => makeDenoiser({ net, schedule, prediction: 'eps', clipX0: false, guidance: 3 })).toThrow(/guidance needs/);
  });
});
