// NIfTI-1 and NIfTI-2 single files (.nii, .nii.gz), parsed by nifti-reader-js.
//
// Axes: NIfTI x varies fastest, so stored (x, y, z) is [D=z, H=y, W=x] with
// no copy, and spacing is [pixdim[3], pixdim[2], pixdim[1]]. Voxels stay in
// stored order: the qform/sform orientation is not applied (not needed to
// train, and the data is never resampled across axes here).
// Values: raw * scl_slope + scl_inter when scl_slope is finite and non-zero
// (NIfTI-1 header comments: slope 0 means "no scaling").
// 4D and up: the first 3D volume is taken (t = 0, and index 0 along dims 5-7),
// and a note on the Volume says how many there were.
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { checkVolume, errorText, plainBytes, ReadError, type Volume } from './types.ts';
import { readBytes } from './files.ts';
import { describeLimit, MAX_INFLATED_BYTES } from './limits.ts';

type Reader = (bytes: Uint8Array, n: number) => ArrayLike<number>;

/** NIfTI datatype code -> name, bytes per voxel, and a little-endian typed-array view over aligned bytes. */
const DATATYPES = new Map<number, { name: string; bytes: number; view: Reader }>([
  [2, { name: 'uint8', bytes: 1, view: (b, n) => new Uint8Array(b.buffer, b.byteOffset, n) }],
  [256, { name: 'int8', bytes: 1, view: (b, n) => new Int8Array(b.buffer, b.byteOffset, n) }],
  [4, { name: 'int16', bytes: 2, view: (b, n) => new Int16Array(b.buffer, b.byteOffset, n) }],
  [512, { name: 'uint16', bytes: 2, view: (b, n) => new Uint16Array(b.buffer, b.byteOffset, n) }],
  [8, { name: 'int32', bytes: 4, view: (b, n) => new Int32Array(b.buffer, b.byteOffset, n) }],
  [768, { name: 'uint32', bytes: 4, view: (b, n) => new Uint32Array(b.buffer, b.byteOffset, n) }],
  [16, { name: 'float32', bytes: 4, view: (b, n) => new Float32Array(b.buffer, b.byteOffset, n) }],
  [64, { name: 'float64', bytes: 8, view: (b, n) => new Float64Array(b.buffer, b.byteOffset, n) }],
  // 64-bit integers go through Number: exact up to 2^53, which covers any image.
  [1024, { name: 'int64', bytes: 8, view: (b, n) => Array.from(new BigInt64Array(b.buffer, b.byteOffset, n), Number) }],
  [1280, { name: 'uint64', bytes: 8, view: (b, n) => Array.from(new BigUint64Array(b.buffer, b.byteOffset, n), Number) }],
]);

/** Names of the datatypes we reject, for the error message. */
const UNSUPPORTED_NAMES: Record<number, string> = {
  1: 'binary (1 bit)', 32: 'complex64', 128: 'RGB24', 1536: 'float128', 1792: 'complex128', 2048: 'complex256', 2304: 'RGBA32',
};

/** xyzt_units & 7 -> mm per unit (NIFTI_UNITS_METER = 1, _MM = 2, _MICRON = 3; 0 = unknown, taken as mm). */
const MM_PER_SPACE_UNIT: Record<number, number> = { 0: 1, 1: 1000, 2: 1, 3: 0.001 };

/** Reads a .nii or .nii.gz (NIfTI-1 or -2) into a Volume; every failure is a ReadError naming `path`. */
export async function readNifti(path: string): Promise<Volume> {
  return decodeNifti(await readBytes(path), path);
}

/** Decodes NIfTI bytes (gzipped or not); `source` names the file in errors and on the Volume. */
export function decodeNifti(bytes: Uint8Array, source: string): Volume {
  bytes = plainBytes(bytes);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // The header says how large the file is: inflate no more than that (a decompression bomb stops at
    // its own declared size, or at MAX_INFLATED_BYTES). node's zlib checks the gzip trailer (CRC-32, length).
    const cap = Math.min(MAX_INFLATED_BYTES, declaredBytes(bytes) ?? MAX_INFLATED_BYTES);
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: cap });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ReadError(source, cap < MAX_INFLATED_BYTES
          ? `inflates to more than the ${cap} bytes its header declares (vox_offset + voxels)`
          : `inflates to more than the reader limit of ${describeLimit.bytes(MAX_INFLATED_BYTES)} (MAX_INFLATED_BYTES)`);
      }
      throw new ReadError(source, `corrupt gzip stream: ${errorText(err)}`);
    }
  }
  // nifti-reader-js takes a whole ArrayBuffer: copy only when `bytes` is a view into a larger one.
  const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
  if (!nifti.isNIFTI(buf)) {
    const pair = nifti.isNIFTI(buf, true);
    throw new ReadError(source, pair
      ? 'a NIfTI .hdr/.img pair header; only single-file .nii / .nii.gz is supported'
      : 'not a NIfTI-1 or NIfTI-2 file (no "n+1" / "n+2" magic)');
  }
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(buf);
  } catch (err) {
    throw new ReadError(source, `bad NIfTI header: ${errorText(err)}`);
  }
  const notes: string[] = [];

  const ndim = header.dims[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) throw new ReadError(source, `bad NIfTI header: dim[0] = ${ndim}, expected 1..7`);
  // dim[i] beyond dim[0] are unused and count as 1.
  const dim = (i: number) => (i <= ndim ? header.dims[i] : 1);
  for (let i = 1; i <= ndim; i++) {
    if (!Number.isInteger(dim(i)) || dim(i) < 1) throw new ReadError(source, `bad NIfTI header: dim[${i}] = ${dim(i)}, expected a positive integer`);
  }
  const [nx, ny, nz] = [dim(1), dim(2), dim(3)];
  const extra = [4, 5, 6, 7].map(dim);
  const nVolumes = extra.reduce((a, b) => a * b, 1);
  if (nVolumes > 1) notes.push(`took the first 3D volume of ${nVolumes} (dims 4-7 = [${extra.join(', ')}])`);

  const code = header.datatypeCode;
  const type = DATATYPES.get(code);
  if (!type) throw new ReadError(source, `unsupported NIfTI datatype ${UNSUPPORTED_NAMES[code] ?? 'unknown'} (code ${code}); expected one of ${[...DATATYPES.values()].map((t) => t.name).join(', ')}`);
  if (header.numBitsPerVoxel !== type.bytes * 8) notes.push(`bitpix ${header.numBitsPerVoxel} disagrees with datatype ${type.name}; used the datatype`);

  const n = nx * ny * nz;
  const offset = header.vox_offset;
  const need = n * type.bytes;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ReadError(source, `bad NIfTI header: vox_offset = ${offset}`);
  if (offset + need > buf.byteLength) {
    throw new ReadError(source, `truncated: ${Math.max(0, buf.byteLength - offset)} bytes of voxel data after vox_offset ${offset}, need ${need} for ${nx}x${ny}x${nz} ${type.name}`);
  }
  // [D, H, W] = [nz, ny, nx]: x is stored fastest, exactly as W. An own copy keeps typed views aligned.
  const raw = new Uint8Array(buf, offset, need).slice();
  if (!header.littleEndian) swapBytes(raw, type.bytes);
  const values = type.view(raw, n);

  const slope = header.scl_slope;
  const inter = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  const scale = Number.isFinite(slope) && slope !== 0;
  const data = new Float32Array(n);
  if (scale) for (let i = 0; i < n; i++) data[i] = values[i] * slope + inter;
  else data.set(values);

  const unitCode = header.xyzt_units & 0x07;
  const mmPerUnit = MM_PER_SPACE_UNIT[unitCode];
  if (mmPerUnit === undefined) throw new ReadError(source, `unknown NIfTI spatial unit code ${unitCode} in xyzt_units ${header.xyzt_units}`);
  const spacingOf = (i: number) => {
    const p = Math.abs(header.pixDims[i]);
    if (Number.isFinite(p) && p > 0) return p * mmPerUnit;
    if (i <= ndim) notes.push(`pixdim[${i}] = ${header.pixDims[i]} is not a positive size; used 1 mm`);
    return 1;
  };
  const spacing: [number, number, number] = [spacingOf(3), spacingOf(2), spacingOf(1)];

  return checkVolume({ data, shape: [nz, ny, nx], spacing, source, ...(notes.length ? { notes } : {}) });
}

/**
 * The whole file's size as a gzipped NIfTI header declares it (vox_offset +
 * every voxel of every volume), from the first KiB of the stream; undefined
 * when the head is not a readable NIfTI header (the full decode then says why).
 */
function declaredBytes(gz: Uint8Array): number | undefined {
  let head: Buffer;
  try {
    // A prefix with a sync flush yields what it holds; 1 KiB of deflate inflates to at most ~1 MiB.
    head = gunzipSync(gz.subarray(0, 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 4 << 20 });
  } catch {
    return undefined;
  }
  const buf = head.buffer.slice(head.byteOffset, head.byteOffset + head.byteLength) as ArrayBuffer;
  try {
    if (!nifti.isNIFTI(buf)) return undefined;
    const h = nifti.readHeader(buf);
    const ndim = h.dims[0];
    let voxels = 1;
    for (let i = 1; i <= ndim && i <= 7; i++) voxels *= Math.max(1, h.dims[i]);
    const total = h.vox_offset + (voxels * h.numBitsPerVoxel) / 8;
    // 64 KiB of slack for writers that pad the end.
    return Number.isFinite(total) && total > 0 ? Math.ceil(total) + 65_536 : undefined;
  } catch {
    return undefined;
  }
}

/** Reverses the byte order of each `size`-byte element in place. */
export function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i + size <= b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}
