// A library user's mounted app: localSampler without a backend selected
// first. Its own file (its own module graph), so that no other test has
// selected one; the embedded models, since the tiny fixtures select cpu.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { packagePath } from '../../../sampler/node/package-files.ts';
import { createApp } from '../../../worker/app.ts';
import { folderStorage } from '../../../worker/node/folder-storage.ts';
import { localSampler } from '../../../worker/node/local-sampler.ts';

describe('localSampler', () => {
  it('selects the best backend itself when the caller has selected none (not tfjs cpu)', async () => {
    const models = packagePath('models');
    const sampler = localSampler(models);
    const app = createApp({ storage: folderStorage(models), sampler });
    try {
      const res = await app.request('/v1/models/default/samples', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"steps":2,"seed":1}' });
      expect([res.status, res.headers.get('content-type')]).toEqual([200, 'image/png']);
      // The first of Node's order that loads here (tfjs-node is not installed in CI).
      expect(['tensorflow', 'wasm']).toContain(tf.getBackend());
    } finally {
      sampler.close();
    }
  });
});
