import * as nifti from 'nifti-reader-js';
import { gunzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { encodeNifti } from '../../../sampler/encode/nifti.ts';
import type { GeneratedImage } from '../../../sampler/encode/types.ts';
import { constant, image } from './fixtures.ts';

const f = Math.fround;

/** Parses a .nii or .nii.gz with an independent reader. */
function read(bytes: Uint8Array) {
  let buf: ArrayBuffer = bytes.slice().buffer;
  if (nifti.isCompressed(buf)) buf = nifti.decompress(buf) as ArrayBuffer;
  expect(nifti.isNIFTI1(buf)).toBe(true);
  const header = nifti.readHeader(buf);
  if (!(header instanceof nifti.NIFTI1)) throw new Error('expected a NIfTI-1 header');
  return { header, voxels: new Float32Array(nifti.readImage(header, buf)), raw: new Uint8Array(buf) };
}

// CT volume [D=2, H=3, W=4, 1] in HU, spacing [sD, sH, sW] = [2.5, 0.7, 0.8].
const ctValues = [-1000, 3000, 0.1, -1024, 40.25, 1e-7, -0.5, 2047, ...Array.from({ length: 16 }, (_, i) => i * 13.3 - 100)];
const ct = (): GeneratedImage =>
  image([2, 3, 4, 1], (i) => ctValues[i], { spacing: [2.5, 0.7, 0.8], modality: 'ct', unit: 'HU', range: [-1000, 1000] });

describe('encodeNifti', () => {
  it('writes a 3D CT volume with x = W, y = H, z = D and HU values bit-exact', () => {
    const image = ct();
    const bytes = encodeNifti([image]);
    expect(bytes.length).toBe(352 + 24 * 4);
    const { header: h, voxels, raw } = read(bytes);
    expect(h.littleEndian).toBe(true);
    expect(h.magic).toBe('n+1');
    expect(h.dims).toEqual([3, 4, 3, 2, 1, 1, 1, 1]);
    expect(h.pixDims).toEqual([1, f(0.8), f(0.7), 2.5, 1, 1, 1, 1]);
    expect(h.datatypeCode).toBe(nifti.NIFTI1.TYPE_FLOAT32);
    expect(h.numBitsPerVoxel).toBe(32);
    expect(h.vox_offset).toBe(352);
    expect([h.scl_slope, h.scl_inter]).toEqual([1, 0]);
    expect(h.xyzt_units).toBe(10);
    expect(h.xyzt_units & nifti.NIFTI1.SPATIAL_UNITS_MASK).toBe(nifti.NIFTI1.UNITS_MM);
    expect(h.xyzt_units & nifti.NIFTI1.TEMPORAL_UNITS_MASK).toBe(nifti.NIFTI1.UNITS_SEC);
    expect([h.cal_min, h.cal_max]).toEqual([-1000, 1000]);
    expect(h.description).toBe('medsynth ct HU');
    expect([h.aux_file, h.intent_name]).toEqual(['', '']);
    expect([h.qform_code, h.sform_code]).toEqual([1, 1]);
    expect([h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z]).toEqual([0, 0, 0, 0, 0, 0]);
    const affine = [
      [f(0.8), 0, 0, 0],
      [0, f(0.7), 0, 0],
      [0, 0, 2.5, 0],
      [0, 0, 0, 1],
    ];
    expect(h.affine).toEqual(affine);
    expect(h.getQformMat().map((row) => row.map((v) => v + 0))).toEqual(affine);
    // sizeof_hdr, and the zero extension flag between header and data.
    expect(new DataView(raw.buffer).getInt32(0, true)).toBe(348);
    expect(Array.from(raw.subarray(348, 352))).toEqual([0, 0, 0, 0]);

    expect(voxels).toEqual(image.data);
    // Voxel (x=3, y=2, z=1) is [d=1, h=2, w=3].
    expect(voxels[3 + 4 * (2 + 3 * 1)]).toBe(image.data[(1 * 3 + 2) * 4 + 3]);
    expect([voxels[0], voxels[1]]).toEqual([-1000, 3000]);
  });

  it('gzips to the same file, reproducibly', () => {
    const plain = encodeNifti([ct()]);
    const gz = encodeNifti([ct()], { gzip: true });
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(gz)).toEqual(plain);
    expect(encodeNifti([ct()], { gzip: true })).toEqual(gz);
    const { header, voxels } = read(gz);
    expect(header.dims.slice(0, 4)).toEqual([3, 4, 3, 2]);
    expect(voxels).toEqual(ct().data);
  });

  it('writes a 2D image as one slice with unit z spacing', () => {
    const image2d = image([3, 4, 1], (i) => i - 5.5, { spacing: [0.5, 0.25], modality: 'mri', range: [-3, 7] });
    const { header: h, voxels } = read(encodeNifti([image2d]));
    expect(h.dims).toEqual([3, 4, 3, 1, 1, 1, 1, 1]);
    expect(h.pixDims.slice(0, 4)).toEqual([1, 0.25, 0.5, 1]);
    expect(h.affine).toEqual([
      [0.25, 0, 0, 0],
      [0, 0.5, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]);
    expect([h.cal_min, h.cal_max]).toEqual([-3, 7]);
    expect(h.description).toBe('medsynth mri');
    expect(voxels).toEqual(image2d.data);
  });

  it('stacks several 2D images along dim 4', () => {
    const images = [0, 1, 2].map((k) => image([3, 4, 1], (i) => 100 * k + i, { spacing: [0.5, 0.25], range: [k, 10 + k] }));
    for (const gzip of [false, true]) {
      const { header: h, voxels } = read(encodeNifti(images, { gzip }));
      expect(h.dims).toEqual([4, 4, 3, 1, 3, 1, 1, 1]);
      expect(h.pixDims.slice(0, 5)).toEqual([1, 0.25, 0.5, 1, 1]);
      // The window covers every image's range.
      expect([h.cal_min, h.cal_max]).toEqual([0, 12]);
      expect(voxels).toEqual(Float32Array.from(images.flatMap((im) => Array.from(im.data))));
    }
  });

  it('stacks several volumes along dim 4', () => {
    const images = [ct(), { ...ct(), data: ct().data.map((v) => -v) }];
    const { header: h, voxels } = read(encodeNifti(images, { gzip: true }));
    expect(h.dims).toEqual([4, 4, 3, 2, 2, 1, 1, 1]);
    expect(h.pixDims.slice(0, 5)).toEqual([1, f(0.8), f(0.7), 2.5, 1]);
    expect(voxels.subarray(0, 24)).toEqual(images[0].data);
    expect(voxels.subarray(24)).toEqual(images[1].data);
  });

  it('rejects an empty list and mismatched shapes', () => {
    expect(() => encodeNifti([])).toThrow(/no images to encode/);
    expect(() => encodeNifti([constant([2, 2, 1], 0), constant([2, 3, 1], 0)])).toThrow(/image 1: shape \[2, 3, 1\] differs from image 0's \[2, 2, 1\]/);
  });

  it('rejects more than one channel', () => {
    expect(() => encodeNifti([constant([2, 2, 3], 0)])).toThrow(/NIfTI output supports single-channel images only; got 3 channels/);
  });

  it('rejects non-finite data, naming the image', () => {
    const bad = image([2, 2, 1], (i) => (i === 2 ? NaN : 0));
    expect(() => encodeNifti([constant([2, 2, 1], 0), bad])).toThrow(/image 1: non-finite value NaN at index 2/);
    expect(() => encodeNifti([image([2, 2, 1], (i) => (i === 0 ? Infinity : 0))])).toThrow(/image 0: non-finite value Infinity at index 0/);
  });

  it('rejects spacing of the wrong length, non-positive, or differing between images', () => {
    expect(() => encodeNifti([constant([2, 2, 1], 0, { spacing: [1, 1, 1] })])).toThrow(/image 0: spacing \[1, 1, 1\] needs 2 entries/);
    expect(() => encodeNifti([constant([2, 2, 2, 1], 0, { spacing: [1, 1] })])).toThrow(/spacing \[1, 1\] needs 3 entries/);
    expect(() => encodeNifti([constant([2, 2, 1], 0, { spacing: [1, 0] })])).toThrow(/spacing \[1, 0\] must be positive and finite/);
    expect(() => encodeNifti([constant([2, 2, 1], 0, { spacing: [-1, 1] })])).toThrow(/must be positive/);
    expect(() => encodeNifti([constant([2, 2, 1], 0), constant([2, 2, 1], 0, { spacing: [1, 2] })])).toThrow(/image 1: spacing \[1, 2\] differs from image 0's \[1, 1\]/);
  });

  it('rejects dims beyond int16', () => {
    expect(() => encodeNifti([constant([1, 40000, 1], 0)])).toThrow(/NIfTI-1 dims are at most 32767; got \[40000, 1, 1, 1\]/);
  });
});
