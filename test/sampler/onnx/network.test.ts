// One network call of every shipped model kind, recorded as ONNX from the
// checkpoint and run on onnxruntime-node, against the same call on tfjs cpu.
// Both compute in float32 with different summation orders; the measured gap
// is ~1e-6 of the output range (UNet2D: 1.5e-6 of 1.8), so 1e-4 relative
// leaves room for rounding and none for a wrong op.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../sampler/load.ts';
import { decoderGraph, networkGraph } from '../../../sampler/onnx/network.ts';
import { recordGraph } from '../../../sampler/onnx/record.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Runs the graph on onnxruntime and checks its output against tfjs's `ref` within 1e-4 of the output range. */
async function expectAgreement(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, ref: Float32Array): Promise<void> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const out = (await session.run(feeds)).out0.data as Float32Array;
    expect(out.length).toBe(ref.length);
    let range = 0;
    let worst = 0;
    for (let i = 0; i < ref.length; i++) {
      range = Math.max(range, Math.abs(ref[i]));
      worst = Math.max(worst, Math.abs(out[i] - ref[i]));
    }
    expect(range).toBeGreaterThan(0.1); // a trained network, not an all-zero output
    expect(worst).toBeLessThan(1e-4 * range);
  } finally {
    await session.release();
  }
}

describe.each(['default', 'brain-ct-vdm-2d-64', 'brain-ct-ldm-3d-32'])('the network of models/%s on onnxruntime', (name) => {
  it('agrees with tfjs cpu within 1e-4 of the output range, and leaves no tensors', async () => {
    const m = await loadModel(`models/${name}`);
    try {
      const spatial = m.model.output ? m.model.input.shape! : m.manifest.data.shape;
      const shape = [2, ...spatial, m.model.input.channels];
      const before = tf.memory().numTensors;
      const graph = networkGraph(m.model, m.params, shape, m.int8Weights);
      expect(tf.memory().numTensors).toBe(before);
      expect(graph.inputs[0]).toBe('x');
      // int8 checkpoints keep their weights int8 in the graph: about a quarter of the float32 graph's size.
      expect(m.manifest.quantization).toBe('int8');
      expect(graph.bytes.length).toBeLessThan(0.35 * networkGraph(m.model, m.params, shape).bytes.length);

      const n = shape.reduce((a, b) => a * b, 1);
      const xd = Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i));
      const t = tf.tensor1d([0.3, 0.8]);
      const pre = m.model.condition(m.params, t);
      const ref = tf.tidy(() => m.model.apply(m.params, tf.tensor(xd, shape), t, undefined, pre).dataSync() as Float32Array);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', xd, shape) };
      pre.forEach((f, i) => {
        feeds[`scale${i}`] = new ort.Tensor('float32', f.scale.dataSync() as Float32Array, f.scale.shape);
        feeds[`shift${i}`] = new ort.Tensor('float32', f.shift.dataSync() as Float32Array, f.shift.shape);
      });
      tf.dispose([t, ...pre.flatMap((f) => [f.scale, f.shift])]);
      await expectAgreement(graph.bytes, feeds, ref);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      m.dispose();
    }
  });
});

describe('the VQ-GAN decoder of models/brain-ct-ldm-3d-32 on onnxruntime', () => {
  it('agrees with tfjs cpu within 1e-4 of the output range on codebook-snapped latents, and leaves no tensors', async () => {
    const m = await loadModel('models/brain-ct-ldm-3d-32');
    try {
      const shape = [1, ...m.model.input.shape!, m.model.input.channels];
      const n = shape.reduce((a, b) => a * b, 1);
      const before = tf.memory().numTensors;
      const codes = tf.tidy(() => m.model.toCodes!(m.params, tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i)), shape)));
      const ref = tf.tidy(() => m.model.decode!(m.params, codes).dataSync() as Float32Array);
      const bytes = decoderGraph(m.model, m.params, shape, m.int8Weights);
      expect(bytes.length).toBeLessThan(0.35 * decoderGraph(m.model, m.params, shape).length);
      const feeds = { codes: new ort.Tensor('float32', codes.dataSync() as Float32Array, shape) };
      codes.dispose();
      expect(tf.memory().numTensors).toBe(before);
      await expectAgreement(bytes, feeds, ref);
    } finally {
      m.dispose();
    }
  });
});

describe('recordGraph', () => {
  it('names the tfjs kernel it has no translation for, and restores the backend', () => {
    expect(() => recordGraph('bad', (r) => [tf.atan(r.input('x', [2]))])).toThrow(/Kernel 'Atan' not registered for backend 'onnx-graph'/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('refuses a model that reads values while recording', () => {
    expect(() => recordGraph('read', (r) => [tf.tensor1d(r.input('x', [2]).dataSync())])).toThrow(/read a tensor's values while being recorded/);
    expect(tf.getBackend()).toBe('cpu');
  });
});
