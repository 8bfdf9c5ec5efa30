// Conversions between float32 host tensors and the stored dtypes.
//
// Error bounds (asserted per element in test/shared/checkpoint/quantize.test.ts):
// - float32: bit-exact (including -0, subnormals and the largest finite values).
// - float16 (round to nearest, ties to even): for normal-range values
//   2^-14 <= |x| <= 65504, |fp16(x) - x| <= 2^-11 |x| (half an ulp of a 10-bit
//   mantissa); below 2^-14 (fp16 subnormals, spacing 2^-24),
//   |fp16(x) - x| <= 2^-25. |x| > 65504 is not representable: the writer rejects it.
// - int8, symmetric per output channel c along `axis`: scale[c] =
//   max|w[.., c]| / 127 (float32, nudged up so 127 scale[c] >= max|w|),
//   q = round(w / scale[c]) in [-127, 127], w' = float32(q scale[c]);
//   |w - w'| <= scale[c] / 2 + 2^-24 |w'| (the last term is the float32 rounding
//   of the product). An all-zero channel gets scale 1 and dequantises to 0 exactly.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const FP16_MAX = 65504;

/** float32 values as little-endian bytes (a new buffer). */
export function float32ToBytes(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 4);
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
  } else {
    const view = new DataView(out.buffer);
    for (let i = 0; i < x.length; i++) view.setFloat32(i * 4, x[i], true);
  }
  return out;
}

/**
 * Little-endian float32 bytes as a Float32Array. Always copies: decoded byte
 * views may be unaligned or share a larger buffer (a msgpack document).
 */
export function bytesToFloat32(b: Uint8Array): Float32Array {
  if (b.length % 4 !== 0) throw new RangeError(`float32 data length ${b.length} is not a multiple of 4`);
  if (LITTLE_ENDIAN) return new Float32Array(new Uint8Array(b).buffer);
  const out = new Float32Array(b.length / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE 754 binary16 bits of float32(x), rounding to nearest even. Overflow gives +-Inf. */
export function float32ToFloat16Bits(x: number): number {
  scratchF32[0] = x;
  const f = scratchU32[0];
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // fp16 subnormal: value = half * 2^-24, half = m * 2^(e - 14).
    if (e < -10) return sign; // below 2^-25: rounds to zero
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half; // a carry into bit 10 is the smallest normal, as it should be
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may reach Inf: correct
  return sign | half;
}

/** The float value of binary16 bits (exact in float32). */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let fp16Table: Float32Array | undefined;

function float16Table(): Float32Array {
  if (!fp16Table) {
    fp16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) fp16Table[h] = float16BitsToFloat32(h);
  }
  return fp16Table;
}

/** float16 little-endian bytes of x. Values beyond +-65504 become +-Inf: check first. */
export function encodeFloat16(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 2);
  for (let i = 0; i < x.length; i++) {
    const h = float32ToFloat16Bits(x[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

export function decodeFloat16(b: Uint8Array): Float32Array {
  if (b.length % 2 !== 0) throw new RangeError(`float16 data length ${b.length} is not a multiple of 2`);
  const table = float16Table();
  const out = new Float32Array(b.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = table[b[2 * i] | (b[2 * i + 1] << 8)];
  return out;
}

/** Channel layout of `shape` along `axis`: element i is in channel floor(i / inner) % channels. */
function layout(shape: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new RangeError(`quantisation axis ${axis} is out of range for rank ${shape.length}`);
  }
  let outer = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  let inner = 1;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return { outer, channels: shape[axis], inner };
}

const F32_MIN_SUBNORMAL = 2 ** -149;

/** The next float32 above a positive float32. */
function nextUpF32(s: number): number {
  scratchF32[0] = s;
  scratchU32[0] += 1;
  return scratchF32[0];
}

/**
 * Symmetric per-channel int8 quantisation along `axis` (the output-channel
 * axis: last for conv filters [kh, kw, in, out] and dense [in, out]).
 */
export function quantizeInt8(
  w: Float32Array,
  shape: readonly number[],
  axis: number,
): { q: Int8Array; scale: Float32Array } {
  const { outer, channels, inner } = layout(shape, axis);
  if (outer * channels * inner !== w.length) throw new RangeError(`shape [${shape.join(', ')}] does not match ${w.length} values`);
  const maxAbs = new Float64Array(channels);
  for (let o = 0, i = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let m = maxAbs[c];
      for (let j = 0; j < inner; j++, i++) {
        const a = Math.abs(w[i]);
        if (a > m) m = a;
      }
      maxAbs[c] = m;
    }
  }
  const scale = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = maxAbs[c];
    if (m === 0) {
      scale[c] = 1;
      continue;
    }
    // float32 rounding can make 127 s < max|w|, which would clamp q and break
    // the s/2 bound; s * 127 is exact in float64 (24-bit x 7-bit mantissas).
    let s = Math.fround(m / 127);
    if (s === 0) s = F32_MIN_SUBNORMAL;
    while (s * 127 < m) s = nextUpF32(s);
    scale[c] = s;
  }
  const q = new Int8Array(w.length);
  for (let o = 0, i = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c];
      for (let j = 0; j < inner; j++, i++) {
        const v = Math.round(w[i] / s);
        q[i] = v > 127 ? 127 : v < -127 ? -127 : v;
      }
    }
  }
  return { q, scale };
}

/** w' = q * scale[c] as float32. `q` holds the raw int8 bytes. */
export function dequantizeInt8(
  q: Int8Array | Uint8Array,
  scale: Float32Array,
  shape: readonly number[],
  axis: number,
): Float32Array {
  const { outer, channels, inner } = layout(shape, axis);
  if (outer * channels * inner !== q.length) throw new RangeError(`shape [${shape.join(', ')}] does not match ${q.length} values`);
  if (scale.length !== channels) throw new RangeError(`${scale.length} scales for ${channels} channels`);
  const qi = q instanceof Int8Array ? q : new Int8Array(q.buffer, q.byteOffset, q.length);
  const out = new Float32Array(q.length);
  for (let o = 0, i = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c];
      for (let j = 0; j < inner; j++, i++) out[i] = qi[i] * s;
    }
  }
  return out;
}
