import { describe, expect, it } from 'vitest';
import { Rng } from '../../../shared/rng.ts';
import {
  CheckpointError,
  FP16_MAX,
  decodeFloat16,
  dequantizeInt8,
  encodeCheckpoint,
  encodeFloat16,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  loadCheckpoint,
  memorySource,
  quantizeInt8,
} from '../../../shared/checkpoint/index.ts';
import type { HostTensor } from '../../../shared/checkpoint/index.ts';
import { bits, sampleMeta } from './fixtures.ts';

const F32_MAX = 3.4028234663852886e38;

async function roundTrip(tensors: Map<string, HostTensor>, quantization: 'fp32' | 'fp16' | 'int8') {
  const { files, manifest } = await encodeCheckpoint(tensors, sampleMeta(), { quantization });
  const loaded = await loadCheckpoint(memorySource(files));
  return { manifest, tensors: loaded.tensors };
}

/** Values spread over magnitudes 2^lo .. 2^hi, both signs. */
function spread(n: number, lo: number, hi: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const u = rng.uniform(2 * n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (u[2 * i + 1] < 0.5 ? -1 : 1) * 2 ** (lo + (hi - lo) * u[2 * i]);
  return out;
}

describe('fp32', () => {
  it('round-trips bit-exactly, including -0, subnormals and the extremes', async () => {
    const special = new Float32Array([0, -0, 1, -1, Math.PI, 1e-45, -1e-45, 1.1754942e-38, 1.17549435e-38, F32_MAX, -F32_MAX, 65505, 1e-30]);
    const random = spread(4096, -140, 127, 11);
    const { tensors } = await roundTrip(
      new Map([
        ['special', { shape: [special.length], data: special }],
        ['random', { shape: [64, 64], data: random }],
      ]),
      'fp32',
    );
    expect(bits(tensors.get('special')!.data)).toEqual(bits(special));
    expect(Object.is(tensors.get('special')!.data[1], -0)).toBe(true);
    expect(bits(tensors.get('random')!.data)).toEqual(bits(random));
    expect(tensors.get('random')!.shape).toEqual([64, 64]);
  });
});

describe('fp16 conversion', () => {
  it('matches known IEEE binary16 encodings, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519.99, 0x7bff], // below the halfway point to 2^16
      [65520, 0x7c00], // halfway: ties to even = Inf
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway to 2^-24: ties to even (0)
      [2 ** -25 * 1.000001, 0x0001],
      [3 * 2 ** -25, 0x0002], // 1.5 ulp: ties to even (2)
      [1 + 2 ** -11, 0x3c00], // halfway: even
      [1 + 3 * 2 ** -11, 0x3c02], // halfway: even (up)
      [2 ** -14 - 2 ** -25, 0x0400], // top subnormal rounds up into the normals
      [1e-10, 0x0000],
    ];
    for (const [x, h] of cases) expect(float32ToFloat16Bits(x), `fp16(${x})`).toBe(h);
    expect(float32ToFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(float32ToFloat16Bits(NaN) & 0x3ff).not.toBe(0);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
  });

  it('is the identity on every finite and infinite binary16 value', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = float16BitsToFloat32(h);
      if (Number.isNaN(x)) continue;
      expect(float32ToFloat16Bits(x)).toBe(h);
    }
  });

  it('stays within 2^-11 relative error for normal values and 2^-25 absolute below 2^-14', () => {
    const x = new Float32Array([...spread(20000, -30, 15.99, 7), ...spread(2000, -26, -14, 8)]);
    const y = decodeFloat16(encodeFloat16(x));
    let normals = 0;
    let subnormals = 0;
    for (let i = 0; i < x.length; i++) {
      const err = Math.abs(y[i] - x[i]);
      if (Math.abs(x[i]) >= 2 ** -14) {
        normals++;
        expect(err, `x=${x[i]}`).toBeLessThanOrEqual(2 ** -11 * Math.abs(x[i]));
      } else {
        subnormals++;
        expect(err, `x=${x[i]}`).toBeLessThanOrEqual(2 ** -25);
      }
    }
    expect(normals).toBeGreaterThan(1000);
    expect(subnormals).toBeGreaterThan(1000);
  });

  it('round-trips an fp16 checkpoint within the same bounds', async () => {
    const x = spread(3000, -20, 15.9, 9);
    const { manifest, tensors } = await roundTrip(new Map([['w', { shape: [3000], data: x }]]), 'fp16');
    expect(manifest.tensors[0].dtype).toBe('float16');
    const y = tensors.get('w')!.data;
    for (let i = 0; i < x.length; i++) {
      const bound = Math.abs(x[i]) >= 2 ** -14 ? 2 ** -11 * Math.abs(x[i]) : 2 ** -25;
      expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(bound);
    }
  });

  it('makes the writer reject values beyond the fp16 range, naming the tensor', async () => {
    const data = new Float32Array([1, -2, FP16_MAX, -70000]);
    const p = encodeCheckpoint(new Map([['too.big', { shape: [4], data }]]), sampleMeta(), { quantization: 'fp16' });
    await expect(p).rejects.toThrow(CheckpointError);
    await expect(p).rejects.toThrow(/tensor "too\.big".*-70000 at index 3.*fp16 range/);
    // The same values are fine in fp32 and int8.
    await expect(roundTrip(new Map([['too.big', { shape: [4], data }]]), 'fp32')).resolves.toBeDefined();
  });
});

describe('int8', () => {
  /** A conv filter [kh, kw, in, out] whose output channels differ wildly in scale. */
  function filter(): HostTensor {
    const shape = [3, 3, 4, 6];
    const n = 3 * 3 * 4 * 6;
    const g = new Rng(21).normal(n);
    const channelScale = [1, 1e-3, 250, 0, 1e-41, 7];
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = g[i] * channelScale[i % 6];
    return { shape, data };
  }

  function assertBound(w: Float32Array, deq: Float32Array, scale: Float32Array, channels: number) {
    for (let i = 0; i < w.length; i++) {
      const s = scale[i % channels];
      // s/2 from rounding q, one float32 rounding of q*s, and 2^-149 for subnormal products.
      const bound = s / 2 + 2 ** -24 * Math.abs(deq[i]) + 2 ** -149;
      expect(Math.abs(w[i] - deq[i]), `i=${i} w=${w[i]}`).toBeLessThanOrEqual(bound);
    }
  }

  it('quantises per output channel within scale/2, with zero channels exact', () => {
    const { shape, data } = filter();
    const { q, scale } = quantizeInt8(data, shape, 3);
    expect(scale.length).toBe(6);
    expect(scale[3]).toBe(1); // the all-zero channel
    for (let c = 0; c < 6; c++) {
      let maxAbs = 0;
      let maxQ = 0;
      for (let i = c; i < data.length; i += 6) {
        maxAbs = Math.max(maxAbs, Math.abs(data[i]));
        maxQ = Math.max(maxQ, Math.abs(q[i]));
      }
      if (maxAbs > 0) {
        expect(scale[c] * 127).toBeGreaterThanOrEqual(maxAbs);
        expect(maxQ).toBeGreaterThanOrEqual(126); // the channel's range is used
      }
    }
    for (const v of q) expect(Math.abs(v)).toBeLessThanOrEqual(127);
    const deq = dequantizeInt8(q, scale, shape, 3);
    assertBound(data, deq, scale, 6);
    for (let i = 3; i < deq.length; i += 6) expect(deq[i]).toBe(0);
  });

  it('quantises along any axis', () => {
    const x = new Rng(3).normal(2 * 5 * 3);
    const shape = [2, 5, 3];
    const { q, scale } = quantizeInt8(x, shape, 1);
    expect(scale.length).toBe(5);
    const deq = dequantizeInt8(q, scale, shape, 1);
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / 3) % 5;
      expect(Math.abs(x[i] - deq[i])).toBeLessThanOrEqual(scale[c] / 2 + 2 ** -24 * Math.abs(deq[i]));
    }
  });

  it('round-trips an int8 checkpoint: rank >= 2 as int8 within the bound, rank < 2 as exact float32', async () => {
    const f = filter();
    const bias = new Float32Array([0.5, -1e-7, 3, -0]);
    const dense = new Rng(5).normal(32 * 4);
    const { manifest, tensors } = await roundTrip(
      new Map<string, HostTensor>([
        ['conv.w', f],
        ['conv.b', { shape: [4], data: bias }],
        ['dense.w', { shape: [32, 4], data: dense }],
        ['t', { shape: [], data: new Float32Array([2.5]) }],
      ]),
      'int8',
    );
    const dtypes = Object.fromEntries(manifest.tensors.map((t) => [t.name, [t.dtype, t.axis]]));
    expect(dtypes).toEqual({
      'conv.b': ['float32', undefined],
      'conv.w': ['int8', 3],
      'dense.w': ['int8', 1],
      t: ['float32', undefined],
    });
    expect(bits(tensors.get('conv.b')!.data)).toEqual(bits(bias));
    expect(tensors.get('t')!.data[0]).toBe(2.5);
    const { scale } = quantizeInt8(f.data, f.shape, 3);
    assertBound(f.data, tensors.get('conv.w')!.data, scale, 6);
    const d = quantizeInt8(dense, [32, 4], 1);
    assertBound(dense, tensors.get('dense.w')!.data, d.scale, 4);
    // The stored int8 form comes along (for engines that keep weights int8): exactly the writer's q and scales,
    // and exactly what the float32 data was dequantised from; float32 tensors have none.
    const stored = tensors.get('dense.w')!.int8!;
    expect({ axis: stored.axis, q: Array.from(stored.q), scale: bits(stored.scale) }).toEqual({ axis: 1, q: Array.from(d.q), scale: bits(d.scale) });
    expect(bits(dequantizeInt8(stored.q, stored.scale, [32, 4], 1))).toEqual(bits(tensors.get('dense.w')!.data));
    expect(tensors.get('conv.w')!.int8!.axis).toBe(3);
    expect(tensors.get('conv.b')!.int8).toBeUndefined();
  });
});

describe('writer validation', () => {
  const meta = sampleMeta();
  const ok = { shape: [2], data: new Float32Array([1, 2]) };
  it.each([
    ['a NaN', new Map([['w.nan', { shape: [2], data: new Float32Array([1, NaN]) }]]), /tensor "w\.nan".*NaN at index 1 is not finite/],
    ['an Inf', new Map([['w.inf', { shape: [1], data: new Float32Array([-Infinity]) }]]), /tensor "w\.inf".*-Infinity at index 0/],
    ['an empty name', new Map([['', ok]]), /empty tensor name/],
    ['a 513-character name', new Map([['n'.repeat(513), ok]]), /longer than 512 characters/],
    ['a shape/data mismatch', new Map([['w', { shape: [3], data: new Float32Array(2) }]]), /tensor "w".*needs 3 values, data has 2/],
    ['a fractional dimension', new Map([['w', { shape: [1.5], data: new Float32Array(2) }]]), /tensor "w".*not a positive integer/],
    ['rank 7', new Map([['w', { shape: [1, 1, 1, 1, 1, 1, 1], data: new Float32Array(1) }]]), /tensor "w".*rank 7/],
    ['no tensors', new Map(), /no tensors/],
  ])('rejects %s', async (_, tensors, re) => {
    const p = encodeCheckpoint(tensors as Map<string, HostTensor>, meta, { quantization: 'fp32' });
    await expect(p).rejects.toThrow(CheckpointError);
    await expect(p).rejects.toThrow(re);
  });

  it('rejects metadata the manifest schema refuses, naming the field', async () => {
    const bad = { ...meta, data: { ...meta.data, spacing: [1, 1, 1] } };
    await expect(encodeCheckpoint(new Map([['w', ok]]), bad, { quantization: 'fp32' })).rejects.toThrow(
      /manifest\.json: invalid manifest at data\.spacing/,
    );
  });
});
