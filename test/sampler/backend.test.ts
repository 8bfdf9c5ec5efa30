import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describeChoice, parseBackendName, selectBackend } from '../../sampler/backend.ts';
import { networkEngine } from '../../sampler/network-engine.ts';
import { HAS_ONNXRUNTIME } from '../backends.ts';

const hasTfjsNode = await import('@tensorflow/tfjs-node' as string).then(
  () => true,
  () => false,
);

describe('selectBackend (Node)', () => {
  it('takes the first backend that initialises, reporting why earlier ones were skipped', async () => {
    const choice = await selectBackend();
    expect(networkEngine().name).toBe(choice.name);
    // tensorflow comes first; when tfjs-node is absent (no libtensorflow), onnxruntime is next (wasm where it is not installed).
    if (choice.name !== 'tensorflow') {
      expect(choice.name).toBe(HAS_ONNXRUNTIME ? 'onnxruntime' : 'wasm');
      expect(choice.skipped[0]).toMatch(/^tensorflow: .*tfjs-node/);
      // onnxruntime runs the network calls; tfjs wasm the samplers' own math.
      if (HAS_ONNXRUNTIME) expect(tf.getBackend()).toBe('wasm');
    }
  });

  // CUDA needs onnxruntime-node's provider libraries, which `.npmrc` keeps npm from downloading.
  const cudaLibs = HAS_ONNXRUNTIME && existsSync(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_shared.so'));
  it.skipIf(!HAS_ONNXRUNTIME || cudaLibs)('onnxruntime says what it runs on: the CPU provider, and why not CUDA', async () => {
    const choice = await selectBackend('onnxruntime');
    expect(choice.detail).toMatch(/^cpu \(cuda: .*[Ff]ailed to load/);
    expect(describeChoice(choice)).toBe(`onnxruntime: ${choice.detail}`);
  });

  it('for work that runs tfjs itself (training, encoding) passes over onnxruntime, and refuses it by name', async () => {
    const choice = await selectBackend(undefined, { tfjsOnly: true });
    expect(['tensorflow', 'wasm']).toContain(choice.name);
    expect(choice.skipped.some((s) => s.startsWith('onnxruntime'))).toBe(false);
    await expect(selectBackend('onnxruntime', { tfjsOnly: true })).rejects.toThrow('--backend onnxruntime runs only the sampling networks; this needs one of tensorflow, wasm, cpu');
  });

  it('honours an override and reports it', async () => {
    expect(await selectBackend('cpu')).toEqual({ name: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect(networkEngine().name).toBe('cpu'); // the network calls left onnxruntime too
    expect((await selectBackend('wasm')).name).toBe('wasm');
  });

  // Only provable where libtensorflow is absent (as on the project's CPU machines).
  it.skipIf(hasTfjsNode)('fails loudly when a forced backend cannot start', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(/no tfjs backend could be initialised \(tensorflow: /);
  });

  it('rejects unknown names with the list of valid ones', () => {
    expect(() => parseBackendName('webgl')).toThrow('--backend must be one of tensorflow, onnxruntime, wasm, cpu; got "webgl"');
  });
});
