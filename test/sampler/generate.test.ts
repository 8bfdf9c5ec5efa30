// generate(): from a loaded tiny checkpoint to images in real units, on every
// test backend; then cross-backend and fp32-vs-int8 agreement.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/checkpoint/index.ts';
import type { GeneratedImage } from '../../sampler/encode/types.ts';
import { generate, type GenerateOptions, type GenerateProgress } from '../../sampler/generate.ts';
import { loadModel, type LoadedModel } from '../../sampler/load.ts';
import { SAMPLING_BACKENDS, useBackend } from '../backends.ts';
import { editManifest, tinyFiles, type TinyKind, type TinyOptions } from '../helpers/tiny-models.ts';

const LABELS = ['healthy', 'glioma'];

// Checkpoints are plain bytes: built once, loaded on each backend.
type Key = TinyKind | 'cond-2d' | 'vdm-nofourier';
const SPECS: Record<Key, [TinyKind, TinyOptions]> = {
  'ddpm-unet2d': ['ddpm-unet2d', {}],
  'ddpm-unet3d': ['ddpm-unet3d', {}],
  vdm: ['vdm', {}],
  'vdm-learned': ['vdm-learned', {}],
  'cond-2d': ['ddpm-unet2d', { labels: LABELS, name: 'tiny-mri-2d-cond' }],
  'vdm-nofourier': ['vdm', { config: { fourierMin: 0, fourierMax: 0 }, name: 'tiny-xray-vdm-nofourier' }],
};
const KEYS = Object.keys(SPECS) as Key[];
const files = new Map<Key, Map<string, Uint8Array>>();

beforeAll(async () => {
  for (const key of KEYS) files.set(key, (await tinyFiles(...SPECS[key])).files);
});

async function load(key: Key): Promise<LoadedModel> {
  return loadModel(memorySource(files.get(key)!, `mem://${key}`));
}

/** Every image's data, concatenated. */
function flat(images: readonly GeneratedImage[]): Float32Array {
  const out = new Float32Array(images.reduce((n, im) => n + im.data.length, 0));
  let at = 0;
  for (const im of images) {
    out.set(im.data, at);
    at += im.data.length;
  }
  return out;
}

/** max |a - b| over the width of the intensity range. */
function maxRelDiff(a: Float32Array, b: Float32Array, [lo, hi]: [number, number]): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d / (hi - lo);
}

/** PSNR in dB with the peak = the width of the intensity range. */
function psnr(a: Float32Array, b: Float32Array, [lo, hi]: [number, number]): number {
  expect(a.length).toBe(b.length);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 20 * Math.log10((hi - lo) / Math.sqrt(se / a.length));
}

/** Fraction of positions where a and b differ. */
function fractionDifferent(a: Float32Array, b: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n / a.length;
}

const EXPECTED: Record<TinyKind, { shape: number[]; spacing: number[]; modality: string; unit: string; range: [number, number]; sampler: string }> = {
  'ddpm-unet2d': { shape: [16, 16, 1], spacing: [1.0, 0.8], modality: 'mri', unit: '', range: [0, 255], sampler: 'ddim' },
  // CT in HU: level 40, width 400 -> [40 - 200, 40 + 200].
  'ddpm-unet3d': { shape: [4, 8, 8, 1], spacing: [2.5, 0.9, 0.8], modality: 'ct', unit: 'HU', range: [-160, 240], sampler: 'ddim' },
  vdm: { shape: [16, 16, 1], spacing: [0.14, 0.14], modality: 'xray', unit: '', range: [0, 4095], sampler: 'vdm' },
  'vdm-learned': { shape: [16, 16, 1], spacing: [0.14, 0.14], modality: 'xray', unit: '', range: [0, 4095], sampler: 'vdm' },
};

describe.each(SAMPLING_BACKENDS)('generate on %s', (backend) => {
  const models = new Map<Key, LoadedModel>();
  beforeAll(async () => {
    await useBackend(backend);
    for (const key of KEYS) models.set(key, await load(key));
  });
  afterAll(() => {
    for (const m of models.values()) m.dispose();
  });
  const model = (key: Key) => models.get(key)!;

  it.each(['ddpm-unet2d', 'ddpm-unet3d', 'vdm', 'vdm-learned'] as const)(
    '%s: images in real units with the manifest shape, spacing, modality and unit; nothing leaks',
    async (kind) => {
      const want = EXPECTED[kind];
      const before = tf.memory().numTensors;
      const r = await generate(model(kind), { count: 2, seed: 4 });
      expect(tf.memory().numTensors).toBe(before);
      expect([r.backend, r.sampler, r.steps, r.seed]).toEqual([backend, want.sampler, 5, 4]);
      expect(r.images).toHaveLength(2);
      for (const im of r.images) {
        expect(im.shape).toEqual(want.shape);
        expect(im.data.length).toBe(want.shape.reduce((a, b) => a * b, 1));
        expect(im.spacing).toEqual(want.spacing);
        expect(im.modality).toBe(want.modality);
        expect(im.unit).toBe(want.unit);
        expect(im.range).toEqual(want.range);
        // generate clips model space to [-1, 1] before mapping, so every value lies in the
        // range (for CT: HU within [level - width/2, level + width/2]).
        const [lo, hi] = want.range;
        let inside = 0;
        for (const v of im.data) {
          expect(v >= lo && v <= hi, `value ${v} outside [${lo}, ${hi}]`).toBe(true);
          if (v > lo && v < hi) inside++;
        }
        // Not merely clipped noise: some values fall strictly inside the window.
        expect(inside).toBeGreaterThan(im.data.length / 50);
      }
      expect(fractionDifferent(r.images[0].data, r.images[1].data)).toBeGreaterThan(0.5);
    },
  );

  it('same seed gives identical data; a different seed different data', async () => {
    const m = model('ddpm-unet2d');
    const a = flat((await generate(m, { seed: 11 })).images);
    const b = flat((await generate(m, { seed: 11 })).images);
    const c = flat((await generate(m, { seed: 12 })).images);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(fractionDifferent(a, c)).toBeGreaterThan(0.5);
  });

  // Image i draws its noise from RNG stream i and every op in the networks is
  // per-sample (GroupNorm statistics over one sample or one volume, attention
  // within one image), so batching cannot change it in exact arithmetic. In
  // float32 it could only through a kernel that tiles or accumulates differently
  // for another batch size; measured on cpu and wasm the difference is exactly 0
  // for every kind. The 1e-5 (of the intensity range) tolerance leaves room for
  // such kernels (tensorflow, webgpu) without hiding a real batching bug, which
  // shows up at O(1).
  it.each([
    ['ddpm-unet2d', 3],
    ['ddpm-unet3d', 2],
    ['vdm', 3],
  ] as const)('%s: image i is the same alone or in a batch', async (kind, count) => {
    const m = model(kind);
    const range = EXPECTED[kind].range;
    const batched = (await generate(m, { seed: 21, count, batchSize: count })).images;
    const oneByOne = (await generate(m, { seed: 21, count, batchSize: 1 })).images;
    const alone = (await generate(m, { seed: 21, count: 1 })).images;
    for (let i = 0; i < count; i++) expect(maxRelDiff(batched[i].data, oneByOne[i].data, range), `image ${i}`).toBeLessThanOrEqual(1e-5);
    expect(maxRelDiff(batched[0].data, alone[0].data, range)).toBeLessThanOrEqual(1e-5);
    // A later slice of the batch on its own (how a worker pool splits a request).
    const tail = (await generate(m, { seed: 21, count: count - 1, first: 1 })).images;
    for (let i = 1; i < count; i++) expect(maxRelDiff(batched[i].data, tail[i - 1].data, range), `image ${i} from first=1`).toBeLessThanOrEqual(1e-5);
    // ...and the images of one call are not copies of each other.
    expect(fractionDifferent(batched[0].data, batched[count - 1].data)).toBeGreaterThan(0.5);
  });

  it('reports progress over all batches', async () => {
    const seen: GenerateProgress[] = [];
    await generate(model('ddpm-unet2d'), { count: 3, batchSize: 2, steps: 2 }, { onProgress: (p) => seen.push(p) });
    expect(seen).toEqual([1, 2, 3, 4].map((step) => ({ step, totalSteps: 4 })));
  });

  it('every DDPM sampler runs on a ddpm checkpoint, each its own way', async () => {
    const m = model('ddpm-unet2d');
    const outs: Float32Array[] = [];
    for (const sampler of ['ddpm', 'ddim', 'dpm-solver++'] as const) {
      const before = tf.memory().numTensors;
      const r = await generate(m, { sampler, seed: 5 });
      expect(tf.memory().numTensors).toBe(before);
      expect(r.sampler).toBe(sampler);
      expect(r.steps).toBe(5);
      for (const v of r.images[0].data) expect(v >= 0 && v <= 255).toBe(true);
      outs.push(r.images[0].data);
    }
    expect(fractionDifferent(outs[0], outs[1])).toBeGreaterThan(0.05);
    expect(fractionDifferent(outs[1], outs[2])).toBeGreaterThan(0.05);
    expect(fractionDifferent(outs[0], outs[2])).toBeGreaterThan(0.05);
  });

  it.each(['vdm', 'vdm-learned'] as const)('the vdm sampler runs on a %s checkpoint', async (kind) => {
    const m = model(kind);
    const r = await generate(m, { sampler: 'vdm', steps: 3, seed: 5 });
    expect(r.sampler).toBe('vdm');
    expect(r.steps).toBe(3);
    const d = r.images[0].data;
    for (const v of d) expect(v >= 0 && v <= 4095).toBe(true);
    // 3 steps is not the 5 of the manifest's default: the output must change with it.
    const five = (await generate(m, { seed: 5 })).images[0].data;
    expect(fractionDifferent(d, five)).toBeGreaterThan(0.5);
  });

  it('labels: by name and by index alike, different labels differ, guidance mixes in the null label', async () => {
    const m = model('cond-2d');
    const byName = flat((await generate(m, { label: 'glioma', seed: 8 })).images);
    const byIndex = flat((await generate(m, { label: 1, seed: 8 })).images);
    const other = flat((await generate(m, { label: 'healthy', seed: 8 })).images);
    const before = tf.memory().numTensors;
    const guided = flat((await generate(m, { label: 'glioma', guidance: 3, seed: 8 })).images);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(byIndex)).toEqual(Array.from(byName));
    expect(fractionDifferent(byName, other)).toBeGreaterThan(0.01);
    expect(fractionDifferent(byName, guided)).toBeGreaterThan(0.01);
  });

  it('label and guidance errors name what is valid', async () => {
    const cond = model('cond-2d');
    const before = tf.memory().numTensors;
    const validList = /label: expected one of 0="healthy", 1="glioma"; got /;
    await expect(generate(cond, { label: 'meningioma' })).rejects.toThrow(validList);
    await expect(generate(cond, { label: 2 })).rejects.toThrow(validList);
    await expect(generate(cond, { guidance: 2 })).rejects.toThrow(/guidance: guidance 2 needs a label/);
    await expect(generate(model('ddpm-unet2d'), { label: 0 })).rejects.toThrow(/label: model "tiny-mri-2d" is not class-conditional/);
    await expect(generate(model('ddpm-unet2d'), { label: 'healthy' })).rejects.toThrow(/not class-conditional/);
    // Option validation names the field.
    await expect(generate(cond, { steps: 0 })).rejects.toThrow(/^steps: /);
    await expect(generate(cond, { sampler: 'euler' } as unknown as GenerateOptions)).rejects.toThrow(/^sampler: /);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an AbortSignal stops the run between steps with an AbortError, freeing everything', async () => {
    const m = model('ddpm-unet2d');
    const before = tf.memory().numTensors;
    const ctrl = new AbortController();
    const steps: number[] = [];
    const run = generate(m, { count: 2, steps: 5 }, {
      signal: ctrl.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 2) ctrl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([1, 2]);
    expect(tf.memory().numTensors).toBe(before);

    // Already aborted: no step runs at all.
    const done = new AbortController();
    done.abort();
    const early: number[] = [];
    await expect(generate(m, {}, { signal: done.signal, onProgress: (p) => early.push(p.step) })).rejects.toMatchObject({ name: 'AbortError' });
    expect(early).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

it('a manifest with labels: [] is an unconditional model and samples', async () => {
  await useBackend('cpu');
  const { files } = await tinyFiles('ddpm-unet2d');
  const m = await loadModel(memorySource(editManifest(files, (mf) => (mf.labels = []))));
  const { images } = await generate(m, { steps: 2 });
  expect(images).toHaveLength(1);
  await expect(generate(m, { steps: 2, label: 0 })).rejects.toThrow(/is not class-conditional/);
  m.dispose();
});

describe('agreement', () => {
  // Same seed on cpu and wasm. The noise is generated in JavaScript, so it is
  // bit-identical; only the network's float32 arithmetic differs (XNNPACK and
  // the cpu kernels sum in different orders): one network call differs by
  // ~3e-7 absolute (measured on all kinds), and for the DDPM U-Nets and a VDM
  // without Fourier features 5 steps amplify that very little: measured max
  // differences of 1.8e-7 (2D), 2.3e-7 (3D) and 7e-7 (vdm, no Fourier) of the
  // range, far under the 1e-3 bound (a quarter of one 8-bit grey level).
  // onnxruntime runs the same network (recorded from the checkpoint) on its own kernels: measured
  // 1.2e-7 (2D), 1.1e-7 (3D) and 1.1e-6 (vdm, no Fourier) of the range against cpu.
  it.each(['ddpm-unet2d', 'ddpm-unet3d', 'vdm-nofourier'] as const)('%s: cpu, wasm and onnxruntime agree to 1e-3 of the intensity range', async (key) => {
    const outs: Float32Array[] = [];
    for (const backend of SAMPLING_BACKENDS) {
      await useBackend(backend);
      const m = await load(key);
      try {
        const r = await generate(m, { count: 2, seed: 3 });
        expect(r.backend).toBe(backend);
        outs.push(flat(r.images));
      } finally {
        m.dispose();
      }
    }
    const range = key === 'ddpm-unet3d' ? EXPECTED['ddpm-unet3d'].range : key === 'vdm-nofourier' ? EXPECTED.vdm.range : EXPECTED['ddpm-unet2d'].range;
    for (const other of outs.slice(1)) expect(maxRelDiff(outs[0], other, range)).toBeLessThanOrEqual(1e-3);
  });

  // The VDM score network's Fourier features sin/cos(2^n 2 pi z), n = 6, 7,
  // multiply any change in z by up to 2^7 2 pi ~ 804 at every network call, so
  // the same ~3e-7 rounding differences grow over 5 steps. Measured here (count
  // 2, seed 3): max 3.5e-3 / 4.8e-3 of the range, mean 3.7e-4 / 5.8e-4 (fixed /
  // learned schedule); other seeds and counts reach max 6.9e-3; onnxruntime
  // against cpu: max 5.8e-3 / 6.5e-3, mean 4.6e-4 / 6.3e-4. This is a
  // property of the network (vdm's Base2FourierFeatures), not a bug; the bounds
  // (max 2e-2, mean 2e-3) catch a real divergence (another seed's sample differs
  // by 0.48 of the range on average) without flaking on the amplification.
  it.each(['vdm', 'vdm-learned'] as const)('%s (Fourier features): cpu, wasm and onnxruntime agree to 2e-2 max, 2e-3 mean', async (key) => {
    const outs: Float32Array[] = [];
    for (const backend of SAMPLING_BACKENDS) {
      await useBackend(backend);
      const m = await load(key);
      try {
        outs.push(flat((await generate(m, { count: 2, seed: 3 })).images));
      } finally {
        m.dispose();
      }
    }
    const [a, ...others] = outs;
    for (const b of others) {
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
      expect(maxRelDiff(a, b, EXPECTED.vdm.range)).toBeLessThanOrEqual(2e-2);
      expect(sum / a.length / 4095).toBeLessThanOrEqual(2e-3);
    }
  });

  // fp32 vs int8 export of the same parameters, same seed. Quantisation is
  // backend-independent (it happens in the loader), so this runs on wasm only.
  // int8 per-output-channel weights change one network call by 1.2-1.8%
  // (relative RMS, measured); the 5-step samplers amplify that: DDPM's clip of
  // x0 to [-1, 1] turns a few near-zero pixels into full-range flips, VDM's
  // Fourier features amplify as above. Measured PSNR over the range, count 4,
  // seed 0: 30.9 dB (2D), 63.1 dB (3D), 28.1 dB (vdm), 28.3 dB (vdm-learned),
  // 52.0 dB (vdm without Fourier features); over seeds 0, 1, 7, 42 the lowest
  // were 25.5 (2D), 31.6 (3D), 28.1 (vdm). A checkpoint with other parameters
  // (seed 2) scores 9-15 dB. Bound: 25 dB (45 dB without Fourier features).
  // Checked against a broken dequantiser (every channel scaled by channel 0's
  // scale): 20.3 dB (2D), 17.6 (3D), 27.5 (vdm without Fourier features) all
  // fail, but vdm with Fourier features still scores 25.1: for those two cases
  // the sample-level comparison only guards against gross breakage (unrelated
  // parameters), and the Fourier-free vdm case is the sensitive one.
  it.each([
    ['ddpm-unet2d', {}, 25],
    ['ddpm-unet3d', {}, 25],
    ['vdm', {}, 25],
    ['vdm-learned', {}, 25],
    ['vdm', { config: { fourierMin: 0, fourierMax: 0 } }, 45],
  ] as const)('%s %j: int8 export samples close to fp32 (PSNR >= %i dB)', async (kind, opts, bound) => {
    await useBackend('wasm');
    const range = EXPECTED[kind].range;
    const run = async (extra: TinyOptions) => {
      const m = await loadModel(memorySource((await tinyFiles(kind, { ...opts, ...extra })).files));
      try {
        expect(m.manifest.quantization).toBe(extra.quantization ?? 'fp32');
        return flat((await generate(m, { count: 4, seed: 0 })).images);
      } finally {
        m.dispose();
      }
    };
    const fp32 = await run({});
    const int8 = await run({ quantization: 'int8' });
    const other = await run({ seed: 2 });
    expect(psnr(fp32, int8, range)).toBeGreaterThanOrEqual(bound);
    expect(psnr(fp32, other, range)).toBeLessThan(18);
  });
});
