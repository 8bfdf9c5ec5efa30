// The onnxruntime network engine (sampler/onnx/engine.ts) behind generate():
// its self-test, one session per batch shape kept with the model and released
// with it, calls off the sampling grid, and what is left after an abort. That
// its images agree with tfjs is the shared generate suite's job
// (test/sampler/generate.test.ts runs on onnxruntime too).
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../../shared/checkpoint/index.ts';
import { generate } from '../../../sampler/generate.ts';
import { GridConditioning } from '../../../sampler/grid-conditioning.ts';
import { loadModel, type LoadedModel } from '../../../sampler/load.ts';
import { networkEngine } from '../../../sampler/network-engine.ts';
import { ONNX_ENGINE, onnxSelfTest, openSessions } from '../../../sampler/onnx/engine.ts';
import { useBackend } from '../../backends.ts';
import { tinyFiles } from '../../helpers/tiny-models.ts';

let files: Map<string, Uint8Array>;
beforeAll(async () => {
  await useBackend('onnxruntime');
  files = (await tinyFiles('ddpm-unet2d', { labels: ['a', 'b'] })).files;
});
const load = (): Promise<LoadedModel> => loadModel(memorySource(files, 'mem://tiny-onnx'));

/** Lets released sessions settle (release is asynchronous). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('the onnxruntime engine', () => {
  it('is what selecting onnxruntime installs, after its self-test passes to float32 rounding', async () => {
    expect(networkEngine().name).toBe(ONNX_ENGINE);
    expect(await onnxSelfTest(ort)).toBeLessThan(1e-6);
  });

  it('keeps one session per batch shape with the model, reuses it, and releases all on dispose', async () => {
    const base = openSessions();
    const m = await load();
    await generate(m, { count: 2, batchSize: 2, seed: 1, steps: 3 });
    expect(openSessions()).toBe(base + 1);
    await generate(m, { count: 2, batchSize: 2, seed: 2, steps: 3 });
    expect(openSessions()).toBe(base + 1); // same shape: the same session
    // Guidance doubles the batch: a second shape.
    await generate(m, { count: 2, batchSize: 2, seed: 1, steps: 3, label: 'a', guidance: 2 });
    expect(openSessions()).toBe(base + 2);
    m.dispose();
    await settle();
    expect(openSessions()).toBe(base);
  });

  it('keeps at most 8 shapes per model (the least recently used idle one is released)', async () => {
    const base = openSessions();
    const m = await load();
    for (let b = 1; b <= 10; b++) await generate(m, { count: b, batchSize: b, seed: 0, steps: 2 });
    await settle();
    expect(openSessions()).toBe(base + 8);
    m.dispose();
    await settle();
    expect(openSessions()).toBe(base);
  });

  it('conditions a call off the sampling grid itself, as tfjs does, and frees what it made', async () => {
    const m = await load();
    const conditioning = new GridConditioning(m.model, m.params, [0.5]);
    try {
      const net = networkEngine().net(m, conditioning);
      const x = tf.tensor(Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => Math.sin(0.1 * i)), [2, 16, 16, 1]);
      const before = tf.memory().numTensors;
      for (const t of [0.5, 0.3]) {
        const out = await net(x, t, [0, 1]);
        const ref = tf.tidy(() => m.model.apply(m.params, x, tf.fill([2], t) as tf.Tensor1D, { label: tf.tensor1d([0, 1], 'int32') }));
        const [a, b] = [out.dataSync() as Float32Array, ref.dataSync() as Float32Array];
        const worst = a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);
        expect(worst).toBeLessThan(1e-5); // float32 rounding of a tiny network (outputs ~0.1)
        tf.dispose([out, ref]);
      }
      // The grid time's conditioning is cached by GridConditioning (freed with it); nothing else stays.
      conditioning.dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    } finally {
      conditioning.dispose();
      m.dispose();
    }
  });

  it('samples an int8 checkpoint (its weights int8 in the graph) as tfjs wasm does, to float32 rounding', async () => {
    const int8 = (await tinyFiles('ddpm-unet2d', { quantization: 'int8' })).files;
    const run = async () => {
      const m = await loadModel(memorySource(int8, 'mem://tiny-int8'));
      try {
        expect(m.int8Weights.size).toBeGreaterThan(0);
        return (await generate(m, { count: 2, seed: 5 })).images.flatMap((im) => Array.from(im.data));
      } finally {
        m.dispose();
      }
    };
    const onnx = await run();
    await useBackend('wasm');
    const wasm = await run();
    await useBackend('onnxruntime');
    // Measured 1.5e-7 of the 0..255 range (as for float32 checkpoints): the same dequantised values.
    expect(onnx.reduce((w, v, i) => Math.max(w, Math.abs(v - wasm[i])), 0) / 255).toBeLessThan(1e-5);
  });

  it('an abort mid-run frees every tensor and leaves only the model\'s session, released with it', async () => {
    const base = openSessions();
    const m = await load();
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const run = generate(m, { count: 2, steps: 5 }, { signal: ctrl.signal, onProgress: (p) => p.step === 2 && ctrl.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tf.memory().numTensors).toBe(before);
    expect(openSessions()).toBe(base + 1);
    m.dispose();
    await settle();
    expect(openSessions()).toBe(base);
  });
});
