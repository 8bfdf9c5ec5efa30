// The latent-ddpm-vqgan3d model: config checks naming the field, parameter
// layout (denoiser + VQ-GAN decoder/codebook, no encoder), the latent
// scaling, apply/decode shapes against the two networks it wraps, leaks, and
// cpu/wasm agreement of decode.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/config.ts';
import { codebookRange, latentDdpm, scaleLatents, unscaleLatents } from '../../../shared/models/latent-ddpm.ts';
import { createModel } from '../../../shared/models/index.ts';
import { unet3d } from '../../../shared/models/unet3d.ts';
import type { Params } from '../../../shared/models/types.ts';
import { CODEBOOK, vqgan3d } from '../../../shared/models/vqgan3d/index.ts';
import { Rng } from '../../../shared/rng.ts';
import { TEST_BACKENDS, useBackend } from '../../backends.ts';
import { perturbParams } from '../../helpers/tiny-models.ts';

const UNET = { baseChannels: 8, channelMult: [1, 2], groups: 4, heads: 2, channels: 3, depth: 2 };
const VQGAN = { nHiddens: 4, groups: 4, nCodes: 8, embeddingDim: 3, downsample: [2, 4, 2] };
const LATENT = { shape: [2, 2, 4], min: -1.5, max: 2.5 };
const CONFIG = { ...UNET, vqgan: VQGAN, latent: LATENT };

const normal = (shape: number[], seed: number) => tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1)), shape);
const under = (params: Params, prefix: string) => new Map([...params].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
/** Sampled latents to the volume, as generate() does: toCodes on tfjs, then the decoder network. */
const decodeLatents = (model: ReturnType<typeof latentDdpm>, params: Params, x: tf.Tensor) => tf.tidy(() => model.decode!(params, model.toCodes!(params, x)));

/** Scaled latents [B, 2, 2, 4, 3] whose every vector is a codebook entry (so quantisation is exact on any backend). */
function codeLatents(params: Params, b: number, seed: number): tf.Tensor5D {
  const codebook = under(params, 'vqgan.').get(CODEBOOK)!.dataSync() as Float32Array;
  const rng = new Rng(seed);
  const n = b * 2 * 2 * 4;
  const rows = Array.from({ length: n }, () => rng.int(VQGAN.nCodes));
  const z = Float32Array.from(rows.flatMap((k) => Array.from(codebook.subarray(k * 3, k * 3 + 3))));
  return tf.tensor5d(scaleLatents(z, LATENT), [b, 2, 2, 4, 3]);
}

describe('latent-ddpm-vqgan3d config and parameters', () => {
  it('is registered, keeps the UNet3D fields at the top level, and declares unet.* and the VQ-GAN decoder and codebook only', () => {
    const model = createModel('latent-ddpm-vqgan3d', CONFIG);
    expect(model.kind).toBe('latent-ddpm-vqgan3d');
    expect(model.config).toMatchObject({ channels: 3, depth: 2, numClasses: 0, prediction: 'eps', vqgan: VQGAN, latent: LATENT });
    const names = model.paramSpecs.map((s) => s.name);
    const denoiser = unet3d(UNET).paramSpecs.map((s) => `unet.${s.name}`);
    expect(names.filter((n) => n.startsWith('unet.'))).toEqual(denoiser);
    const vq = names.filter((n) => n.startsWith('vqgan.'));
    expect(vq).toContain('vqgan.codebook.embeddings');
    expect(vq.every((n) => /^vqgan\.(post_vq|dec)\.|^vqgan\.codebook\.embeddings$/.test(n))).toBe(true);
    expect(vq.length + denoiser.length).toBe(names.length);
    // Every decoder parameter of the VQ-GAN is there; no encoder one.
    const decoder = vqgan3d(VQGAN).paramSpecs.map((s) => s.name).filter((n) => !n.startsWith('enc.') && !n.startsWith('pre_vq.'));
    expect(vq).toEqual(decoder.map((n) => `vqgan.${n}`));
    expect(model.input).toMatchObject({ spatialDims: 3, channels: 3, depth: 2, shape: [2, 2, 4] });
    expect(model.output).toMatchObject({ spatialDims: 3, channels: 1, shape: [4, 8, 8] });
  });

  it.each([
    [{ ...CONFIG, channels: 4 }, 'model.channels'],
    [{ ...CONFIG, depth: 3 }, 'model.depth'],
    [{ ...CONFIG, latent: { ...LATENT, shape: [2, 3, 4] } }, 'model.latent.shape'],
    [{ ...CONFIG, latent: { ...LATENT, max: -2 } }, 'model.latent.max'],
    [{ ...CONFIG, latent: undefined }, 'model.latent'],
    [{ ...CONFIG, vqgan: { ...VQGAN, nHiddens: 0 } }, 'model.vqgan.nHiddens'],
    [{ ...CONFIG, groups: 3 }, 'model.groups'],
  ])('rejects a bad config naming %#: %s', (raw, field) => {
    try {
      latentDdpm(raw);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe(field);
    }
  });

  it('scales latents by the codebook range onto [-1, 1] (min -> -1, max -> 1) and back', () => {
    const codebook = Float32Array.from([0.5, -1.5, 2.5, 1, 0, -0.25]);
    const scale = codebookRange(codebook);
    expect(scale).toEqual({ min: -1.5, max: 2.5 });
    const x = scaleLatents(codebook, scale);
    expect(Array.from(x)).toEqual([0, -1, 1, 0.25, -0.25, -0.375]);
    const back = unscaleLatents(tf.tensor1d(x), scale);
    expect(maxDiff(back.dataSync() as Float32Array, codebook)).toBeLessThan(1e-6);
    back.dispose();
    expect(() => codebookRange(new Float32Array(4).fill(2))).toThrow(/no range/);
  });
});

describe.each(TEST_BACKENDS)('latent-ddpm-vqgan3d on %s', (backend) => {
  it('apply is the UNet3D on the scaled latents; decode unscales, snaps to the codebook and runs the VQ-GAN decoder', async () => {
    await useBackend(backend);
    const model = latentDdpm(CONFIG);
    const params = perturbParams(model.init(1), 1, 0.05);
    const x = normal([2, 2, 2, 4, 3], 2);
    const t = tf.tensor1d([0.2, 0.7]);
    const y = model.apply(params, x, t);
    const want = unet3d(UNET).apply(under(params, 'unet.'), x, t);
    expect(y.shape).toEqual([2, 2, 2, 4, 3]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(want.dataSync()));

    const volume = decodeLatents(model, params, x);
    expect(volume.shape).toEqual([2, 4, 8, 8, 1]);
    const vq = vqgan3d(VQGAN);
    const z = unscaleLatents(x, LATENT) as tf.Tensor5D;
    const ref = vq.decode(under(params, 'vqgan.'), z, { quantize: true });
    expect(maxDiff(volume.dataSync() as Float32Array, ref.dataSync() as Float32Array)).toBeLessThan(1e-5);
    tf.dispose([x, t, y, want, volume, z, ref, ...params.values()]);
  });

  it('rejects latents and inputs of the wrong shape', async () => {
    await useBackend(backend);
    const model = latentDdpm(CONFIG);
    const params = model.init(1);
    const bad = tf.zeros([1, 2, 2, 2, 3]);
    const t = tf.tensor1d([0.5]);
    expect(() => model.decode!(params, bad)).toThrow(/decode: must be \[2,2,4\] x 3 channel\(s\), got \[2,2,2,3\]/);
    expect(() => model.toCodes!(params, bad)).toThrow(/toCodes: must be \[2,2,4\] x 3 channel\(s\), got \[2,2,2,3\]/);
    expect(() => model.apply(params, bad, t)).toThrow(/latent-ddpm-vqgan3d: x: must be \[2,2,4\]/);
    tf.dispose([bad, t, ...params.values()]);
  });

  it('apply and decode free every intermediate', async () => {
    await useBackend(backend);
    const model = latentDdpm(CONFIG);
    const params = perturbParams(model.init(3), 3, 0.05);
    const x = codeLatents(params, 1, 4);
    const t = tf.tensor1d([0.5]);
    const before = tf.memory().numTensors;
    tf.dispose([model.apply(params, x, t), decodeLatents(model, params, x)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, t, ...params.values()]);
  });
});

describe('latent-ddpm-vqgan3d across backends', () => {
  it('decode agrees on cpu and wasm', async () => {
    const run = async (backend: 'cpu' | 'wasm') => {
      await useBackend(backend);
      const model = latentDdpm(CONFIG);
      const params = perturbParams(model.init(5), 5, 0.05);
      const x = codeLatents(params, 2, 6);
      const y = decodeLatents(model, params, x);
      const out = y.dataSync() as Float32Array;
      tf.dispose([x, y, ...params.values()]);
      return out;
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    // O(1) activations through ~8 convolutions of <= 27 x 16 float32 products: float32 rounding is ~1e-6.
    expect(maxDiff(wasm, cpu)).toBeLessThan(1e-4);
  });
});
