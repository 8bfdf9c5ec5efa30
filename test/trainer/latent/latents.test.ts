// The latents folder: a round trip keeps every value, label and field; its
// hash is the manifest's sha256; tampered or inconsistent folders are errors
// naming the file and the reason.
import { describe, expect, it } from 'vitest';
import { CheckpointError, memorySource, sha256Hex } from '../../../shared/checkpoint/index.ts';
import { encodeLatents, loadLatents, type LatentsInput } from '../../../trainer/latent/latents.ts';
import { editManifest } from '../../helpers/tiny-models.ts';

const SHAPE: [number, number, number, number] = [2, 2, 1, 3]; // [d, h, w, E]
const PER = 12;
const VQGAN = { channels: 1, nHiddens: 4, downsample: [4, 4, 8] as [number, number, number], nCodes: 8, embeddingDim: 3, groups: 4 };
const ramp = (n: number, seed: number) => Float32Array.from({ length: n * PER }, (_, i) => Math.sin(i + seed));

function input(overrides: Partial<LatentsInput> = {}): LatentsInput {
  return {
    name: 'tiny-latents',
    source: {
      modality: 'ct',
      labels: ['brain', 'skull'],
      data: {
        shape: [8, 8, 8],
        channels: 1,
        spacing: [3, 2, 2],
        intensity: { kind: 'hu-window', level: 40, width: 400 },
        perLabel: [
          { modality: 'ct', spacing: [3, 2, 2], intensity: { kind: 'hu-window', level: 40, width: 400 } },
          { modality: 'ct', spacing: [3, 2, 2], intensity: { kind: 'hu-window', level: 400, width: 2000 } },
        ],
      },
    },
    vqgan: VQGAN,
    record: { shape: SHAPE, scale: { min: -2, max: 3 }, vqgan: { run: '/runs/vq', checkpoint: 'ab'.repeat(32), step: 12 } },
    train: { latents: ramp(3, 0), labels: [0, 1, 1] },
    validation: { latents: ramp(1, 7), labels: [0] },
    ...overrides,
  };
}

const load = (files: Map<string, Uint8Array>) => loadLatents(memorySource(files, 'mem://latents'));

async function loadError(files: Map<string, Uint8Array>): Promise<CheckpointError> {
  try {
    await load(files);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  return expect.unreachable();
}

describe('latents folder', () => {
  it('round trip: latents, labels, scale, VQ-GAN reference and the source data fields', async () => {
    const files = await encodeLatents(input());
    const l = await load(files);
    expect(l.manifest).toMatchObject({ kind: 'latents', name: 'tiny-latents', modality: 'ct', labels: ['brain', 'skull'], model: VQGAN });
    expect(l.manifest.data.perLabel?.[1].intensity).toEqual({ kind: 'hu-window', level: 400, width: 2000 });
    expect(l.record).toEqual({ format: 'medsynth-latents', shape: SHAPE, scale: { min: -2, max: 3 }, train: 3, validation: 1, vqgan: { run: '/runs/vq', checkpoint: 'ab'.repeat(32), step: 12 } });
    expect(l.vqgan).toMatchObject(VQGAN);
    expect(l.scale).toEqual({ min: -2, max: 3 });
    expect(l.train.shape).toEqual(SHAPE);
    expect(l.train.size).toBe(3);
    const want = ramp(3, 0);
    expect([0, 1, 2].map((i) => l.train.get(i))).toEqual([0, 1, 2].map((i) => ({ x: want.subarray(i * PER, (i + 1) * PER), label: [0, 1, 1][i] })));
    expect(l.validation!.get(0)).toEqual({ x: ramp(1, 7), label: 0 });
    expect(l.hash).toBe(await sha256Hex(files.get('manifest.json')!));
  });

  it('unlabelled and without held-out data', async () => {
    const files = await encodeLatents(input({ source: { ...input().source, labels: undefined, data: { ...input().source.data, perLabel: undefined } }, train: { latents: ramp(2, 1) }, validation: undefined }));
    const l = await load(files);
    expect(l.validation).toBeUndefined();
    expect(l.train.get(1).label).toBeUndefined();
    expect([...files.keys()].length).toBe(2);
  });

  it('a changed shard byte fails its sha256 check, naming the shard', async () => {
    const files = await encodeLatents(input());
    const shard = new Uint8Array(files.get('weights-00000.msgpack')!);
    shard[shard.length - 5] ^= 0x40;
    const e = await loadError(new Map([...files, ['weights-00000.msgpack', shard]]));
    expect(e.message).toMatch(/mem:\/\/latents\/weights-00000\.msgpack: .*sha256/);
  });

  it.each<[string, (m: Record<string, any>) => void, RegExp]>([
    ['another kind', (m) => (m.kind = 'ddpm-unet3d'), /not a latents folder \(kind "ddpm-unet3d"\); make one with medsynth encode/],
    ['no record', (m) => delete m.training.latents, /invalid latents record: training\.latents/],
    ['a bad scale', (m) => (m.training.latents.scale = { min: 1, max: 1 }), /training\.latents\.scale\.max: must be greater than min/],
    ['a shape off the VQ-GAN grid', (m) => (m.training.latents.shape = [2, 2, 2, 3]), /training\.latents\.shape \[2,2,2,3\] is not the VQ-GAN's latent grid \[2,2,1,3\]/],
    ['a volume shape the VQ-GAN cannot take', (m) => (m.data.shape = [8, 8, 6]), /the VQ-GAN config does not fit data\.shape/],
    ['more examples than stored', (m) => (m.training.latents.train = 4), /tensor train\.latents is \[3,2,2,1,3\], expected \[4,2,2,1,3\]/],
    ['labels without classes', (m) => {
      delete m.labels;
      delete m.data.perLabel;
    }, /unexpected tensors: train\.labels, validation\.labels/],
  ])('%s is refused, naming the manifest', async (_, edit, message) => {
    const e = await loadError(editManifest(await encodeLatents(input()), edit));
    expect(e.file).toBe('mem://latents/manifest.json');
    expect(e.message).toMatch(message);
  });

  it('values outside [-1, 1] and labels outside the classes are refused', async () => {
    const big = ramp(3, 0);
    big[5] = 1.5;
    expect((await loadError(await encodeLatents(input({ train: { latents: big, labels: [0, 1, 1] } })))).message).toMatch(/train\.latents: value 1\.5 at index 5 is outside \[-1, 1\]/);
    expect((await loadError(await encodeLatents(input({ train: { latents: ramp(3, 0), labels: [0, 2, 1] } })))).message).toMatch(/train\.labels: 2 at index 1 is not a class index in 0\.\.1/);
  });

  it('the writer refuses inconsistent input', async () => {
    await expect(encodeLatents(input({ train: { latents: new Float32Array(13), labels: [0] } }))).rejects.toThrow(/train has 13 values, not a multiple of \[2,2,1,3\]/);
    await expect(encodeLatents(input({ train: { latents: ramp(3, 0), labels: [0] } }))).rejects.toThrow(/train needs 3 labels, got 1/);
  });
});
