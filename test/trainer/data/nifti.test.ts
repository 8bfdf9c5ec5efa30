import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as nifti from 'nifti-reader-js';
import { describe, expect, it } from 'vitest';
import { decodeNifti, readNifti } from '../../../trainer/data/nifti.ts';
import { ReadError, type Volume } from '../../../trainer/data/types.ts';
import { encodeNiftiFixture } from '../../fixtures/nifti-writer.ts';

const FIX = fileURLToPath(new URL('../../fixtures/nifti/', import.meta.url));
const MRI = `${FIX}ch2bet-24x28x20-uint8.nii`;
const MRI_GZ = `${FIX}ch2bet-24x28x20-uint8.nii.gz`;
const CT = `${FIX}cranium-ct-32x32x18-int16-scaled.nii.gz`;
const INIA = `${FIX}inia19-21x26x16-float32-be.nii.gz`;

/** Voxel (x, y, z) of a [D, H, W] volume: NIfTI x is W, y is H, z is D. */
const at = (v: Volume, x: number, y: number, z: number) => v.data[(z * v.shape[1] + y) * v.shape[2] + x];

/** An independent decode of a little-endian fixture: nifti-reader-js header + its readImage bytes as `T`. */
function reference<T extends ArrayLike<number>>(path: string, view: (b: ArrayBuffer) => T) {
  const file = readFileSync(path);
  let buf: ArrayBuffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  if (nifti.isCompressed(buf)) buf = nifti.decompress(buf) as ArrayBuffer;
  const header = nifti.readHeader(buf);
  return { header, raw: view(nifti.readImage(header, buf)) };
}

describe('readNifti on fixtures derived from ../shared/data', () => {
  it('reads uint8 (Colin27 ch2bet subsample): shape [z, y, x], spacing, stored spot values', async () => {
    const v = await readNifti(MRI);
    expect(v.shape).toEqual([20, 28, 24]);
    expect(v.spacing).toEqual([7, 7, 7]);
    expect(v.source).toBe(MRI);
    expect(v.notes).toBeUndefined();
    // Spot values printed by make-fixtures.ts from the source volume.
    expect(at(v, 12, 14, 10)).toBe(33);
    expect(at(v, 8, 12, 12)).toBe(111);
    expect(at(v, 15, 18, 6)).toBe(86);
    expect(at(v, 0, 0, 0)).toBe(0);
    const { raw } = reference(MRI, (b) => new Uint8Array(b));
    expect(Array.from(v.data)).toEqual(Array.from(raw));
  });

  it('reads .nii.gz to exactly what the plain .nii gives', async () => {
    const [plain, gz] = await Promise.all([readNifti(MRI), readNifti(MRI_GZ)]);
    expect(gz.shape).toEqual(plain.shape);
    expect(gz.spacing).toEqual(plain.spacing);
    expect(gz.data).toEqual(plain.data);
  });

  it('applies scl_slope and scl_inter to int16 (head CT, stored 2 (HU + 1024), slope 0.5, inter -1024) to give HU', async () => {
    const v = await readNifti(CT);
    expect(v.shape).toEqual([18, 32, 32]);
    expect(v.spacing[0]).toBeCloseTo(9, 5);
    expect(v.spacing[1]).toBeCloseTo(0.9570311903953552 * 8, 5);
    expect(v.spacing[2]).toBeCloseTo(0.9570311903953552 * 8, 5);
    expect(at(v, 16, 16, 9)).toBe(-12);
    expect(at(v, 10, 20, 9)).toBe(21);
    expect(at(v, 2, 30, 1)).toBe(-999);
    expect(at(v, 20, 12, 4)).toBe(26);
    const { header, raw } = reference(CT, (b) => new Int16Array(b));
    expect([header.scl_slope, header.scl_inter]).toEqual([0.5, -1024]);
    for (let i = 0; i < raw.length; i += 97) expect(v.data[i]).toBe(raw[i] * 0.5 - 1024);
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of v.data) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
    // The source's documented HU range is -1024..2986.
    expect(lo).toBe(-1024);
    expect(hi).toBeLessThanOrEqual(2986);
    expect(hi).toBeGreaterThan(1000); // bone
  });

  it('reads big-endian float32 (INIA19 subsample) bit-exactly', async () => {
    const v = await readNifti(INIA);
    expect(v.shape).toEqual([16, 26, 21]);
    expect(v.spacing).toEqual([4, 4, 4]);
    expect(at(v, 10, 13, 8)).toBe(82.66915130615234);
    expect(at(v, 8, 10, 9)).toBe(112.40217590332031);
    expect(at(v, 12, 16, 6)).toBe(50.06401824951172);
    expect(at(v, 0, 0, 0)).toBe(0);
  });
});

describe('decodeNifti on in-memory files', () => {
  // value = x + 10 y + 100 z over (x, y, z) in 4 x 3 x 2: any axis mix-up changes some value.
  const dims = [4, 3, 2];
  const ramp = Array.from({ length: 24 }, (_, i) => (i % 4) + 10 * (Math.floor(i / 4) % 3) + 100 * Math.floor(i / 12));

  it('maps (x, y, z) to [D = z, H = y, W = x] and pixdim to [dz, dy, dx]', () => {
    const v = decodeNifti(encodeNiftiFixture({ dims, pixdim: [0.5, 0.75, 2], datatype: 'int32', values: ramp }), 'ramp.nii');
    expect(v.shape).toEqual([2, 3, 4]);
    expect(v.spacing).toEqual([2, 0.75, 0.5]);
    for (let z = 0; z < 2; z++) for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) expect(at(v, x, y, z)).toBe(x + 10 * y + 100 * z);
  });

  it.each(['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'] as const)('reads %s in both byte orders', (datatype) => {
    for (const littleEndian of [true, false]) {
      const v = decodeNifti(encodeNiftiFixture({ dims, pixdim: [1, 1, 1], datatype, values: ramp.map((x) => x % 120), littleEndian }), 'x.nii');
      expect(Array.from(v.data)).toEqual(ramp.map((x) => x % 120));
    }
  });

  it('reads NIfTI-2 like NIfTI-1', () => {
    const values = Array.from(readNiftiSync(MRI).data);
    const spec = { dims: [24, 28, 20], pixdim: [7, 7, 7], datatype: 'uint8' as const, values };
    const v2 = decodeNifti(encodeNiftiFixture({ ...spec, version: 2, gzip: true }), 'x.nii.gz');
    const v1 = decodeNifti(encodeNiftiFixture(spec), 'x.nii');
    expect(v2.shape).toEqual([20, 28, 24]);
    expect(v2.spacing).toEqual(v1.spacing);
    expect(v2.data).toEqual(v1.data);
  });

  it('applies scl_slope/scl_inter only when the slope is non-zero', () => {
    const base = { dims: [2, 1, 1], pixdim: [1, 1, 1], datatype: 'int16' as const, values: [10, -4] };
    expect(Array.from(decodeNifti(encodeNiftiFixture({ ...base, sclSlope: 2.5, sclInter: 3 }), 'a.nii').data)).toEqual([28, -7]);
    expect(Array.from(decodeNifti(encodeNiftiFixture({ ...base, sclSlope: 0, sclInter: 3 }), 'a.nii').data)).toEqual([10, -4]);
  });

  it('takes the first 3D volume of a 4D file and says so', () => {
    const values = [...ramp, ...ramp.map((x) => x + 1000), ...ramp.map((x) => x + 2000)];
    const v = decodeNifti(encodeNiftiFixture({ dims: [4, 3, 2, 3], pixdim: [1, 1, 1, 2], datatype: 'int16', values }), 'fmri.nii');
    expect(v.shape).toEqual([2, 3, 4]);
    expect(Array.from(v.data)).toEqual(ramp);
    expect(v.notes).toEqual(['took the first 3D volume of 3 (dims 4-7 = [3, 1, 1, 1])']);
  });

  it('reads a 2D image as one slice, and converts metres and microns to mm', () => {
    const v = decodeNifti(encodeNiftiFixture({ dims: [4, 3], pixdim: [0.001, 0.002], datatype: 'uint8', values: ramp.slice(0, 12), xyztUnits: 1 }), 'a.nii');
    expect(v.shape).toEqual([1, 3, 4]);
    expect(v.spacing[1]).toBeCloseTo(2, 6);
    expect(v.spacing[2]).toBeCloseTo(1, 6);
    expect(v.spacing[0]).toBe(1);
    const um = decodeNifti(encodeNiftiFixture({ dims, pixdim: [500, 500, 1000], datatype: 'uint8', values: ramp, xyztUnits: 3 }), 'a.nii');
    expect(um.spacing).toEqual([1, 0.5, 0.5]);
  });

  it('rejects truncated, non-NIfTI, corrupt-gzip and unsupported-datatype files with errors naming the file', () => {
    const whole = encodeNiftiFixture({ dims, pixdim: [1, 1, 1], datatype: 'int16', values: ramp });
    expect(() => decodeNifti(whole.subarray(0, whole.length - 10), 'cut.nii')).toThrow(/^cut\.nii: truncated: 38 bytes of voxel data after vox_offset 352, need 48/);
    expect(() => decodeNifti(new Uint8Array(400), 'zeros.nii')).toThrow('zeros.nii: not a NIfTI-1 or NIfTI-2 file');
    expect(() => decodeNifti(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]), 'bad.nii.gz')).toThrow(/^bad\.nii\.gz: corrupt gzip stream/);
    const rgb = whole.slice();
    new DataView(rgb.buffer).setInt16(70, 128, true);
    expect(() => decodeNifti(rgb, 'rgb.nii')).toThrow('rgb.nii: unsupported NIfTI datatype RGB24 (code 128)');
    try {
      decodeNifti(rgb, 'rgb.nii');
    } catch (err) {
      expect(err).toBeInstanceOf(ReadError);
      expect((err as ReadError).file).toBe('rgb.nii');
    }
  });

  it('names a missing file', async () => {
    await expect(readNifti(`${FIX}nope.nii`)).rejects.toThrow(`${FIX}nope.nii: cannot read file`);
  });
});

function readNiftiSync(path: string): Volume {
  return decodeNifti(readFileSync(path), path);
}
