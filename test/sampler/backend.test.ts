import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { parseBackendName, selectBackend } from '../../sampler/backend.ts';

const hasTfjsNode = await import('@tensorflow/tfjs-node' as string).then(
  () => true,
  () => false,
);

describe('selectBackend (Node)', () => {
  it('takes the first backend that initialises, reporting why earlier ones were skipped', async () => {
    const choice = await selectBackend();
    expect(tf.getBackend()).toBe(choice.name);
    // tensorflow comes first; when tfjs-node is absent (no libtensorflow), wasm is next.
    if (choice.name !== 'tensorflow') {
      expect(choice.name).toBe('wasm');
      expect(choice.skipped[0]).toMatch(/^tensorflow: .*tfjs-node/);
    }
  });

  it('honours an override and reports it', async () => {
    expect(await selectBackend('cpu')).toEqual({ name: 'cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
    expect((await selectBackend('wasm')).name).toBe('wasm');
  });

  // Only provable where libtensorflow is absent (as on the project's CPU machines).
  it.skipIf(hasTfjsNode)('fails loudly when a forced backend cannot start', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(/no tfjs backend could be initialised \(tensorflow: /);
  });

  it('rejects unknown names with the list of valid ones', () => {
    expect(() => parseBackendName('webgl')).toThrow('--backend must be one of tensorflow, wasm, cpu; got "webgl"');
  });
});
