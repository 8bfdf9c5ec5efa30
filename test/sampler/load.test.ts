// loadModel(): every kind from memory and from a folder, byte progress, the
// checks that a checkpoint fits its own model config, and tensor hygiene.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, encodeCheckpoint, memorySource, type LoadProgress } from '../../shared/checkpoint/index.ts';
import { paramsToHost } from '../../shared/models/host.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { writeCheckpointFolder } from '../../sampler/node/checkpoint-folder.ts';
import { useBackend } from '../backends.ts';
import { disposeParams, editManifest, TINY_KINDS, tinyCheckpoint, tinyFiles, type TinyCheckpoint, type TinyKind } from '../helpers/tiny-models.ts';

let root: string;
beforeAll(async () => {
  // Loading only creates tensors from host data: one backend is enough here.
  await useBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'medsynth-load-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Bit patterns, so -0 vs 0 and NaN payloads would show. */
function bits(t: tf.Tensor): number[] {
  const f = t.dataSync() as Float32Array;
  return Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
}

/** The loaded model must be exactly what was exported (fp32 is lossless). */
function expectSameModel(loaded: LoadedModel, tiny: TinyCheckpoint): void {
  expect(loaded.manifest).toEqual(tiny.manifest);
  expect(loaded.model.kind).toBe(tiny.model.kind);
  expect(loaded.model.config).toEqual(tiny.model.config);
  expect(loaded.prediction).toBe('eps');
  expect(loaded.schedule.kind).toBe(tiny.manifest.schedule.kind);
  expect([...loaded.params.keys()].sort()).toEqual([...tiny.params.keys()].sort());
  for (const [name, t] of tiny.params) {
    const got = loaded.params.get(name)!;
    expect(got.shape, name).toEqual(t.shape);
    expect(bits(got), name).toEqual(bits(t));
  }
}

describe.each(TINY_KINDS)('loadModel %s', (kind) => {
  let tiny: TinyCheckpoint;
  beforeAll(async () => {
    tiny = await tinyCheckpoint(kind, { shardBytes: 16 * 1024 });
  });
  afterAll(() => disposeParams(tiny.params));

  it('loads from memory, bit-exact, and dispose() frees every tensor it made', async () => {
    expect(tiny.manifest.shards.length).toBeGreaterThan(1); // so the progress test below spans files
    const before = tf.memory().numTensors;
    const loaded = await loadModel(memorySource(tiny.files, 'mem://tiny'));
    expect(loaded.location).toBe('mem://tiny');
    expectSameModel(loaded, tiny);
    expect(tf.memory().numTensors).toBe(before + tiny.params.size);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads from a folder written by writeCheckpointFolder', async () => {
    const dir = join(root, `folder-${kind}`);
    await writeCheckpointFolder(dir, tiny.files);
    const before = tf.memory().numTensors;
    const loaded = await loadModel(dir);
    try {
      expect(loaded.location).toBe(dir);
      expectSameModel(loaded, tiny);
    } finally {
      loaded.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports byte progress per file and overall, monotone, ending at the total', async () => {
    const events: LoadProgress[] = [];
    const loaded = await loadModel(memorySource(tiny.files), { onProgress: (p) => events.push({ ...p }) });
    loaded.dispose();
    const shards = tiny.manifest.shards;
    const total = shards.reduce((a, s) => a + s.bytes, 0);
    expect(events.length).toBeGreaterThanOrEqual(shards.length);
    let last = 0;
    for (const e of events) {
      const shard = shards.find((s) => s.file === e.file);
      expect(shard, e.file).toBeDefined();
      expect(e.fileTotal).toBe(shard!.bytes);
      expect(e.fileLoaded).toBeGreaterThan(0);
      expect(e.fileLoaded).toBeLessThanOrEqual(e.fileTotal);
      expect(e.total).toBe(total);
      expect(e.loaded).toBeGreaterThan(last);
      expect(e.loaded).toBeLessThanOrEqual(total);
      last = e.loaded;
    }
    expect(events.at(-1)!.loaded).toBe(total);
    // Files in manifest order, each finished (fileLoaded = fileTotal) before the next starts.
    const order = [...new Set(events.map((e) => e.file))];
    expect(order).toEqual(shards.map((s) => s.file));
    for (const s of shards) expect(events.filter((e) => e.file === s.file).at(-1)!.fileLoaded).toBe(s.bytes);
  });
});

describe('loadModel rejects checkpoints that do not fit their model config', () => {
  let base: TinyCheckpoint;
  beforeAll(async () => {
    base = await tinyCheckpoint('ddpm-unet2d');
  });
  afterAll(() => disposeParams(base.params));

  /** Re-encodes base's tensors with `edit` applied to a copy of the map (the manifest stays consistent with the shards). */
  async function reencoded(edit: (tensors: ReturnType<typeof paramsToHost>) => void) {
    const tensors = paramsToHost(base.params);
    edit(tensors);
    const meta = { ...base.meta, kind: base.model.kind, model: base.model.config as Record<string, unknown> };
    return (await encodeCheckpoint(tensors, meta, { quantization: 'fp32' })).files;
  }

  /** Loads `files` expecting a CheckpointError; also checks that nothing leaked. */
  async function loadError(files: Map<string, Uint8Array>): Promise<CheckpointError> {
    const before = tf.memory().numTensors;
    const error = await loadModel(memorySource(files, 'mem://bad')).then(
      (m) => {
        m.dispose();
        throw new Error('expected loadModel to fail');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).file).toBe('mem://bad/manifest.json');
    expect(tf.memory().numTensors).toBe(before);
    return error as CheckpointError;
  }

  it('a tensor whose shape disagrees with the config, naming the parameter and both shapes', async () => {
    const files = await reencoded((t) => t.set('in.w', { shape: [3, 3, 1, 4], data: new Float32Array(36) }));
    const e = await loadError(files);
    expect(e.message).toMatch(/^mem:\/\/bad\/manifest\.json: /);
    expect(e.message).toContain('parameter "in.w" has shape [3,3,1,4], the model config needs [3,3,1,8]');
  });

  it('a config that implies different shapes than the stored tensors (edited manifest)', async () => {
    // channels 2 changes in.w and out.conv.* (the shards are untouched and still verify).
    const e = await loadError(editManifest(base.files, (m) => ((m.model.channels = 2), (m.data.channels = 2))));
    expect(e.message).toMatch(/manifest\.json: parameter "(in\.w|out\.conv\.[wb])" has shape \[[\d,]+\], the model config needs \[[\d,]+\]/);
  });

  it('a missing parameter, by name', async () => {
    const files = await reencoded((t) => t.delete('mid.attn.qkv.w'));
    // Guard against a renamed layer making this test vacuous.
    expect(base.params.has('mid.attn.qkv.w')).toBe(true);
    const e = await loadError(files);
    expect(e.message).toContain('manifest.json: parameter "mid.attn.qkv.w" is missing from the checkpoint');
  });

  it('an extra parameter the model does not declare, by name', async () => {
    const files = await reencoded((t) => t.set('down.9.conv.w', { shape: [2, 2], data: new Float32Array(4) }));
    const e = await loadError(files);
    expect(e.message).toContain('manifest.json: unexpected parameters for kind ddpm-unet2d: down.9.conv.w');
  });

  it('an unknown kind, naming it and the known kinds', async () => {
    const e = await loadError(editManifest(base.files, (m) => (m.kind = 'ddpm-unet4d')));
    expect(e.message).toMatch(/manifest\.json: unknown model kind "ddpm-unet4d"; known kinds: .*ddpm-unet2d.*ddpm-unet3d.*vdm/);
  });

  it('a bad model config field, by its path', async () => {
    const e = await loadError(editManifest(base.files, (m) => (m.model.groups = 3)));
    expect(e.message).toMatch(/manifest\.json: model\.groups: 3 must divide the channel count 8/);
    const e2 = await loadError(editManifest(base.files, (m) => (m.model.baseChannels = 'eight')));
    expect(e2.message).toMatch(/manifest\.json: model\.baseChannels: /);
    const e3 = await loadError(editManifest(base.files, (m) => (m.model.dropout = 0.1)));
    expect(e3.message).toMatch(/manifest\.json: model.*dropout/);
  });

  it('a bad prediction, listing the valid ones', async () => {
    for (const prediction of ['score', 'toString', 5]) {
      const e = await loadError(editManifest(base.files, (m) => (m.model.prediction = prediction)));
      expect(e.message).toContain('manifest.json: model.prediction must be one of eps, x0, v');
    }
    // vdm predicts eps only: its own schema says so, still naming the field.
    const vdm = await tinyFiles('vdm');
    const e = await loadError(editManifest(vdm.files, (m) => (m.model.prediction = 'v')));
    expect(e.message).toMatch(/manifest\.json: model\.prediction: /);
  });

  it('a bad schedule, by field, and a learned schedule without its gamma.* tensors (after the tensors were made)', async () => {
    const e = await loadError(editManifest(base.files, (m) => (m.schedule = { kind: 'cosine', T: 0 })));
    expect(e.message).toMatch(/manifest\.json: schedule\.T: /);
    const vdm = await tinyFiles('vdm');
    const e2 = await loadError(editManifest(vdm.files, (m) => (m.schedule = { kind: 'vdm-learned', features: 16 })));
    expect(e2.message).toContain('manifest.json: learned gamma schedule: parameter "gamma.l1.w" is missing');
  });

  it('a model that loaded fine is unaffected by a later failed load', async () => {
    const before = tf.memory().numTensors;
    const good = await loadModel(memorySource(base.files));
    await loadError(await reencoded((t) => t.set('extra', { shape: [1], data: new Float32Array(1) })));
    expect(good.params.size).toBe(base.params.size);
    expect(bits(good.params.get('in.w')!)).toEqual(bits(base.params.get('in.w')!));
    good.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checkpoint-level problems (a missing folder) pass through as CheckpointErrors naming the file', async () => {
    const dir = join(root, 'does-not-exist');
    const error = await loadModel(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(join(dir, 'manifest.json'));
  });

  it('labels that do not match the model classes', async () => {
    const labelled = await tinyFiles('ddpm-unet2d', { labels: ['healthy', 'glioma'] });
    const e = await loadError(editManifest(labelled.files, (m) => (m.labels = ['a', 'b', 'c'])));
    expect(e.message).toContain('manifest.json: labels lists 3 names but the model has 2 classes');
    const e2 = await loadError(editManifest(base.files, (m) => (m.labels = ['a'])));
    expect(e2.message).toContain('manifest.json: labels lists 1 names but the model has 0 classes');
  });

  it('a data shape or channel count the model cannot take', async () => {
    const e = await loadError(editManifest(base.files, (m) => (m.data.channels = 3)));
    expect(e.message).toMatch(/manifest\.json: data\.shape\/data\.channels do not fit the model: needs 1 channel\(s\), got \[16,16,3\]/);
    const e2 = await loadError(editManifest(base.files, (m) => (m.data.shape = [15, 16])));
    expect(e2.message).toMatch(/manifest\.json: .*multiples of 2, got \[15,16,1\]/);
    const vol = await tinyFiles('ddpm-unet3d');
    const e3 = await loadError(editManifest(vol.files, (m) => ((m.data.shape = [8, 8, 8]), (m.data.spacing = [1, 1, 1]))));
    expect(e3.message).toMatch(/manifest\.json: .*depth must be 4 \(model\.depth\)/);
  });

  it('a default sampler that does not exist', async () => {
    const e = await loadError(editManifest(base.files, (m) => (m.sampler.name = 'euler')));
    expect(e.message).toMatch(/manifest\.json: sampler\.name: unknown sampler "euler"/);
  });

  it('gamma.* tensors on a checkpoint whose schedule is not learned', async () => {
    const files = await reencoded((t) => t.set('gamma.l1.w', { shape: [1, 1], data: new Float32Array(1) }));
    const e = await loadError(files);
    expect(e.message).toContain('manifest.json: unexpected parameters for kind ddpm-unet2d: gamma.l1.w');
  });
});

describe('tiny checkpoint helper', () => {
  it('perturbs the params so an untrained net no longer predicts exactly 0', async () => {
    const before = tf.memory().numTensors;
    for (const kind of TINY_KINDS satisfies readonly TinyKind[]) {
      const tiny = await tinyCheckpoint(kind);
      const x = tf.ones([1, ...tiny.manifest.data.shape, 1]);
      const t = tf.tensor1d([0.5]);
      const out = tiny.model.apply(tiny.params, x, t);
      const maxAbs = tf.tidy(() => tf.max(tf.abs(out)));
      expect(maxAbs.dataSync()[0], kind).toBeGreaterThan(1e-3);
      tf.dispose([x, t, out, maxAbs]);
      disposeParams(tiny.params);
    }
    // Without the perturbation the zero-initialised output conv makes the prediction exactly 0.
    const untrained = await tinyCheckpoint('ddpm-unet2d', { perturbStd: 0 });
    const out = tf.tidy(() => untrained.model.apply(untrained.params, tf.ones([1, 16, 16, 1]), tf.tensor1d([0.5])));
    expect(Array.from(out.dataSync()).every((v) => v === 0)).toBe(true);
    tf.dispose(out);
    disposeParams(untrained.params);
    expect(tf.memory().numTensors).toBe(before);
  });
});
