// The GroupNorm op of the vocabulary: on the recording backend shared/models'
// groupNorm becomes one InstanceNormalization per norm (ops.ts), which must
// compute what the tfjs composites compute. Both are float32 with different
// summation orders; measured gap ~1e-6 on unit-variance outputs, so 1e-4
// leaves room for rounding and none for a wrong group, axis or affine.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupNormParts, hasGroupNormKernel } from '../../../shared/models/layers.ts';
import type { Params } from '../../../shared/models/types.ts';
import { loadModel } from '../../../sampler/load.ts';
import { networkGraph } from '../../../sampler/onnx/network.ts';
import { recordGraph } from '../../../sampler/onnx/record.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const wave = (n: number, f: number, offset = 0) => Float32Array.from({ length: n }, (_, i) => offset + Math.sin(f * i) * (1 + (i % 7)));

/** The op types of a recorded graph and how often each occurs. */
function opCounts(bytes: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of onnxProto.onnx.ModelProto.decode(bytes).graph!.node!) counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1);
  return counts;
}

describe('GroupNorm on the onnx-graph backend', () => {
  const cases = [
    { what: 'a 4D NHWC tensor with FiLM', parts: [[2, 6, 5, 8]], groups: 4, film: true },
    { what: 'two channel parts (a U-Net skip join)', parts: [[2, 4, 4, 6], [2, 4, 4, 10]], groups: 8, film: false },
    { what: 'tokens [B, L, C] (attention)', parts: [[1, 12, 16]], groups: 2, film: false },
  ];
  it.each(cases)('agrees with the tfjs composite within 1e-4: $what', async ({ parts, groups, film }) => {
    const c = parts.reduce((s, p) => s + p[p.length - 1], 0);
    const b = parts[0][0];
    const data = parts.map((shape, i) => wave(shape.reduce((x, y) => x * y, 1), 0.31 + i, 3 * i));
    const params: Params = new Map([
      ['n.g', tf.tensor1d(wave(c, 0.7, 1))],
      ['n.b', tf.tensor1d(wave(c, 1.3))],
    ]);
    const filmData = { scale: wave(b * c, 0.9), shift: wave(b * c, 0.5) };
    const filmOf = () => (film ? { scale: tf.tensor2d(filmData.scale, [b, c]), shift: tf.tensor2d(filmData.shift, [b, c]) } : undefined);
    const ref = tf.tidy(() => groupNormParts(params, 'n', parts.map((s, i) => tf.tensor(data[i], s)), groups, 1e-5, filmOf()).map((t) => t.dataSync() as Float32Array));
    expect(hasGroupNormKernel()).toBe(false); // tfjs cpu ran the composite

    const bytes = recordGraph('gn', (r) => {
      expect(hasGroupNormKernel()).toBe(true);
      const recordedParams: Params = new Map([...params].map(([k, v]) => [k, tf.tensor(v.dataSync(), v.shape)]));
      return groupNormParts(recordedParams, 'n', parts.map((s, i) => r.input(`x${i}`, s)), groups, 1e-5, filmOf());
    });
    expect(opCounts(bytes).get('InstanceNormalization')).toBe(1);
    expect(opCounts(bytes).has('ReduceMean')).toBe(false);
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
    try {
      const out = await session.run(Object.fromEntries(parts.map((s, i) => [`x${i}`, new ort.Tensor('float32', data[i], s)])));
      ref.forEach((r, i) => {
        const o = out[`out${i}`].data as Float32Array;
        expect(o.length).toBe(r.length);
        const worst = r.reduce((w, v, j) => Math.max(w, Math.abs(v - o[j])), 0);
        expect(worst).toBeLessThan(1e-4);
      });
    } finally {
      await session.release();
      tf.dispose([...params.values()]);
    }
  });
});

describe('the recorded default network', () => {
  it('has one InstanceNormalization per GroupNorm, one Conv per convolution, and no decomposed statistics', async () => {
    const m = await loadModel('models/default');
    try {
      const counts = opCounts(networkGraph(m.model, m.params, [1, 64, 64, 1], m.int8Weights).bytes);
      const names = [...m.params.keys()];
      // Every norm and conv the image path reads (the conditioning MLP is outside the graph and has no norms or convs).
      expect(counts.get('InstanceNormalization')).toBe(names.filter((n) => /norm\w*\.g$/.test(n)).length);
      expect(counts.get('Conv')).toBe(names.filter((n) => n.endsWith('.w') && m.params.get(n)!.rank === 4).length);
      expect(counts.has('ReduceMean')).toBe(false);
    } finally {
      m.dispose();
    }
  });
});
