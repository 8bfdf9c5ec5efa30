import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dicomParser from 'dicom-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeDicom, findRawDataSet, readDicomFile, readDicomSeries } from '../../../trainer/data/dicom.ts';
import { ReadError, type Volume } from '../../../trainer/data/types.ts';
import { SERIES_SLICES } from '../../fixtures/make-fixtures.ts';
import { encodeDicomFile, encodeElements, encodeImage, imageElements, TS, type ImageSpec } from './dicom-writer.ts';

const FIX = fileURLToPath(new URL('../../fixtures/dicom/', import.meta.url));
const SERIES = fileURLToPath(new URL('../../fixtures/dicom-series', import.meta.url));

/** Pixel Data of an explicit VR little endian fixture as int16, read straight from the bytes. */
function rawInt16(file: string): Int16Array {
  const bytes = new Uint8Array(readFileSync(file));
  const px = dicomParser.parseDicom(bytes).elements.x7fe00010;
  return new Int16Array(bytes.slice(px.dataOffset, px.dataOffset + px.length).buffer);
}

async function rejection(p: Promise<unknown>): Promise<ReadError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ReadError);
    return err as ReadError;
  }
  throw new Error('expected a ReadError');
}

describe('readDicomFile on the pydicom test files', () => {
  it('decodes MR_small in explicit LE, implicit LE, explicit BE and RLE Lossless to the same pixels, bit-exact', async () => {
    const names = ['MR_small.dcm', 'MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'MR_small_RLE.dcm'];
    const [explicit, ...others] = await Promise.all(names.map((n) => readDicomFile(FIX + n)));
    expect(explicit.shape).toEqual([1, 64, 64]);
    expect(explicit.spacing).toEqual([0.8, 0.3125, 0.3125]); // SliceThickness, PixelSpacing
    expect(explicit.modality).toBe('mri');
    // The explicit file's own bytes, as int16 (PixelRepresentation 1, no rescale).
    expect(Array.from(explicit.data)).toEqual(Array.from(rawInt16(FIX + 'MR_small.dcm')));
    expect(Math.min(...explicit.data)).toBe(127);
    expect(Math.max(...explicit.data)).toBe(2145);
    others.forEach((v, i) => {
      expect(v.shape, names[i + 1]).toEqual(explicit.shape);
      expect(v.spacing, names[i + 1]).toEqual(explicit.spacing);
      expect(v.data, names[i + 1]).toEqual(explicit.data);
    });
  });

  it('applies CT_small\'s RescaleIntercept -1024 (slope 1) to give HU', async () => {
    const v = await readDicomFile(FIX + 'CT_small.dcm');
    expect(v.shape).toEqual([1, 128, 128]);
    expect(v.spacing).toEqual([5, 0.661468, 0.661468]);
    expect(v.modality).toBe('ct');
    const raw = rawInt16(FIX + 'CT_small.dcm');
    expect(Array.from(v.data)).toEqual(Array.from(raw, (x) => x - 1024));
    expect(Math.min(...v.data)).toBe(-896);
    expect(Math.max(...v.data)).toBe(1167);
  });

  it('reads no_meta.dcm (no File Meta Information, one stray leading byte) to CT_small\'s pixels', async () => {
    const [ct, noMeta] = await Promise.all([readDicomFile(FIX + 'CT_small.dcm'), readDicomFile(FIX + 'no_meta.dcm')]);
    expect(noMeta.data).toEqual(ct.data);
    expect(noMeta.shape).toEqual(ct.shape);
    expect(noMeta.spacing).toEqual(ct.spacing);
    expect(noMeta.notes).toEqual(['no File Meta Information header; read as Explicit VR Little Endian from byte 1 (skipped 1 stray leading byte(s))']);
  });

  it('reads liver_1frame.dcm (1-bit segmentation, spacing in the functional groups)', async () => {
    const v = await readDicomFile(FIX + 'liver_1frame.dcm');
    expect(v.shape).toEqual([1, 512, 512]);
    expect(v.spacing).toEqual([1, 0.810547, 0.810547]); // SpacingBetweenSlices, PixelSpacing of the shared groups
    expect(v.modality).toBe('seg');
    expect(new Set(v.data)).toEqual(new Set([0, 1]));
    expect(v.data.reduce((a, b) => a + b, 0)).toBe(36233);
  });

  it('names the unsupported transfer syntax of JPEG-lossy.dcm', async () => {
    const err = await rejection(readDicomFile(FIX + 'JPEG-lossy.dcm'));
    expect(err.file).toBe(FIX + 'JPEG-lossy.dcm');
    expect(err.reason).toMatch(/^unsupported transfer syntax 1\.2\.840\.10008\.1\.2\.4\.51 \(JPEG Extended \(Process 2 & 4\)\); /);
    expect(err.message.startsWith(`${FIX}JPEG-lossy.dcm: unsupported transfer syntax`)).toBe(true);
  });

  it('fails MR_truncated.dcm with a ReadError naming the file and the truncation', async () => {
    const err = await rejection(readDicomFile(FIX + 'MR_truncated.dcm'));
    expect(err.file).toBe(FIX + 'MR_truncated.dcm');
    expect(err.reason).toBe('truncated file: Pixel Data (7FE0,0010) declares 8192 bytes but only 8130 remain (file is 9630 bytes)');
  });

  it('fails badVR.dcm with a ReadError naming the file and the bad value', async () => {
    const err = await rejection(readDicomFile(FIX + 'badVR.dcm'));
    expect(err.file).toBe(FIX + 'badVR.dcm');
    expect(err.reason).toBe('invalid NumberOfFrames (0028,0008): "1A" is not a valid IS (integer string)');
  });

  it('names a file that is not DICOM at all, and one that is missing', async () => {
    expect(() => decodeDicom(new TextEncoder().encode('hello, this is not an image at all'.repeat(8)), 'notes.dcm')).toThrow(
      'notes.dcm: not a DICOM file: no "DICM" at byte 128 and no data set in the first 128 bytes',
    );
    expect((await rejection(readDicomFile(FIX + 'missing.dcm'))).reason).toMatch(/^cannot read file/);
  });
});

describe('readDicomSeries', () => {
  const mr = () => rawInt16(FIX + 'MR_small.dcm');

  function checkSeries(v: Volume) {
    expect(v.shape).toEqual([4, 64, 64]);
    expect(v.spacing[0]).toBeCloseTo(2.5, 6); // z = 1.6406, 4.1406, 6.6406, 9.1406
    expect(v.spacing.slice(1)).toEqual([0.3125, 0.3125]);
    const ref = mr();
    for (let d = 0; d < 4; d++) {
      const slice = v.data.subarray(d * 4096, (d + 1) * 4096);
      // Pixel (0, 0) carries the slice's place in position order; the rest is MR_small.
      expect(slice[0]).toBe(5000 + d);
      expect(Array.from(slice.subarray(1))).toEqual(Array.from(ref.subarray(1)));
    }
  }

  it('sorts a folder by position along the normal, not by file name or InstanceNumber', async () => {
    // On disk the names sort c, a, d, b by position and the InstanceNumbers run backwards.
    expect(SERIES_SLICES.map((s) => s.file)).toEqual(['slice-c.dcm', 'slice-a.dcm', 'slice-d.dcm', 'slice-b.dcm']);
    const v = await readDicomSeries(SERIES);
    checkSeries(v);
    expect(v.source).toBe(SERIES);
    expect(v.modality).toBe('mri');
  });

  it('gives the same volume for the files in any order', async () => {
    const files = SERIES_SLICES.map((s) => join(SERIES, s.file));
    checkSeries(await readDicomSeries([files[3], files[1], files[0], files[2]]));
    checkSeries(await readDicomSeries(files));
  });
});

describe('series and pixel rules on generated files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-dicom-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const write = (bytes: Uint8Array, name = `f${n++}.dcm`) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const axial = [1, 0, 0, 0, 1, 0];
  const slice = (z: number, k: number, over: Partial<ImageSpec> = {}): ImageSpec => ({
    rows: 2, columns: 3, pixels: [k, k, k, k, k, k], series: '1.2.3', instance: k + 1, position: [0, 0, z], orientation: axial, pixelSpacing: [0.5, 0.25], ...over,
  });
  /** A folder with spec i in a file named 'z', 'y', ... (name order is the reverse of spec order); files are read in name order. */
  const series = (specs: ImageSpec[]) => {
    const sub = mkdtempSync(join(dir, 's'));
    specs.forEach((s, i) => writeFileSync(join(sub, `${String.fromCharCode(122 - i)}.dcm`), encodeImage(s)));
    return sub;
  };

  it('orders an oblique (sagittal) series along its normal', async () => {
    // Row (0, 1, 0) x column (0, 0, -1) = normal (-1, 0, 0): larger x comes first.
    const sag = [0, 1, 0, 0, 0, -1];
    const v = await readDicomSeries(series([0, 1, 2].map((k) => slice(0, k, { position: [10 - 3 * k, 0, 0], orientation: sag }))));
    expect(Array.from(v.data.filter((_, i) => i % 6 === 0))).toEqual([0, 1, 2]);
    expect(v.spacing).toEqual([3, 0.5, 0.25]);
  });

  it('falls back to InstanceNumber without positions, with spacing from SliceThickness, and says so', async () => {
    const specs = [2, 0, 1].map((k) => slice(0, k, { position: undefined, orientation: undefined, sliceThickness: 1.25 }));
    const v = await readDicomSeries(series(specs));
    expect(Array.from(v.data.filter((_, i) => i % 6 === 0))).toEqual([0, 1, 2]);
    expect(v.spacing).toEqual([1.25, 0.5, 0.25]);
    expect(v.notes).toContain('slices ordered by InstanceNumber (no ImagePositionPatient/ImageOrientationPatient)');
  });

  it('rejects mixed series, repeated positions and uneven gaps with the folder and the reason', async () => {
    const cases: [ImageSpec[], RegExp][] = [
      [[slice(0, 0), slice(1, 1, { series: '9.9' })], /^mixed series: y\.dcm is in SeriesInstanceUID 9\.9, z\.dcm in 1\.2\.3$/],
      [[slice(0, 0), slice(1, 1, { rows: 3, pixels: [1, 1, 1, 1, 1, 1, 1, 1, 1] })], /^mixed series: y\.dcm is 3x3, z\.dcm is 2x3$/],
      [[slice(0, 0), slice(1, 1, { orientation: [0, 1, 0, 0, 0, -1] })], /mixed series: ImageOrientationPatient differs/],
      [[slice(0, 0), slice(0, 1)], /are at the same position \(0\.000 mm along the slice normal\)/],
      [[slice(0, 0), slice(1, 1), slice(3, 2)], /slice gaps vary from 1\.000 to 2\.000 mm \(missing slices, or not one volume\?\)/],
    ];
    for (const [specs, reason] of cases) {
      const folder = series(specs);
      const err = await rejection(readDicomSeries(folder));
      expect(err.file).toBe(folder);
      expect(err.reason).toMatch(reason);
    }
  });

  it('decodes 8-bit unsigned, 12 of 16 bits signed (high bits ignored), slope and intercept', () => {
    const u8 = decodeDicom(encodeImage({ rows: 1, columns: 4, bitsAllocated: 8, pixels: [0, 7, 200, 255] }), 'u8.dcm');
    expect(Array.from(u8.data)).toEqual([0, 7, 200, 255]);
    // 12-bit two's complement in the low bits; the top 4 bits hold junk (an overlay, say) that must be masked off.
    const words = [0x0ffb, 0xf7ff, 0xa800, 0x5005];
    const s12 = decodeDicom(encodeImage({ rows: 2, columns: 2, bitsStored: 12, highBit: 11, pixelRepresentation: 1, pixels: new Uint8Array(Uint16Array.from(words).buffer), slope: 2.5, intercept: -10 }), 's12.dcm');
    expect(Array.from(s12.data)).toEqual([-5, 2047, -2048, 5].map((x) => x * 2.5 - 10));
    // BitsStored 12 at HighBit 15: the value sits in the top bits.
    const top = decodeDicom(encodeImage({ rows: 1, columns: 2, bitsStored: 12, highBit: 15, pixels: new Uint8Array(Uint16Array.from([0xabc0, 0x0010]).buffer) }), 'top.dcm');
    expect(Array.from(top.data)).toEqual([0xabc, 1]);
  });

  it('inverts MONOCHROME1 and turns RGB into luminance, with notes', () => {
    const m1 = decodeDicom(encodeImage({ rows: 1, columns: 3, bitsAllocated: 8, photometric: 'MONOCHROME1', modality: 'CR', pixels: [0, 100, 255] }), 'cr.dcm');
    expect(Array.from(m1.data)).toEqual([255, 155, 0]);
    expect(m1.modality).toBe('xray');
    expect(m1.notes).toContain('MONOCHROME1 inverted to MONOCHROME2 (higher value = brighter)');
    const rgb = [255, 0, 0, 0, 255, 0, 10, 10, 10];
    const interleaved = decodeDicom(encodeImage({ rows: 1, columns: 3, bitsAllocated: 8, samplesPerPixel: 3, photometric: 'RGB', planarConfiguration: 0, pixels: rgb }), 'rgb.dcm');
    const expected = [0.299 * 255, 0.587 * 255, 10].map(Math.fround);
    expect(Array.from(interleaved.data)).toEqual(expected);
    expect(interleaved.notes).toContain('RGB converted to luminance (0.299 R + 0.587 G + 0.114 B)');
    const planar = [255, 0, 10, 0, 255, 10, 0, 0, 10];
    const p = decodeDicom(encodeImage({ rows: 1, columns: 3, bitsAllocated: 8, samplesPerPixel: 3, photometric: 'RGB', planarConfiguration: 1, pixels: planar }), 'rgbp.dcm');
    expect(Array.from(p.data)).toEqual(expected);
  });

  it('reads multi-frame files as D frames, with spacing from SpacingBetweenSlices', () => {
    const v = decodeDicom(encodeImage({ rows: 1, columns: 2, frames: 3, pixels: [1, 2, 3, 4, 5, 6], spacingBetweenSlices: 2, pixelSpacing: [0.7, 0.9] }), 'mf.dcm');
    expect(v.shape).toEqual([3, 1, 2]);
    expect(v.spacing).toEqual([2, 0.7, 0.9]);
    expect(Array.from(v.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const bits = decodeDicom(encodeImage({ rows: 2, columns: 3, frames: 2, bitsAllocated: 1, pixels: new Uint8Array([0b01000101, 0b1001]) }), 'seg.dcm');
    // 12 one-bit pixels, first in the least significant bit, frames back to back.
    expect(Array.from(bits.data)).toEqual([1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1]);
  });

  it('reads deflated and implicit VR files', () => {
    const spec: ImageSpec = { rows: 2, columns: 2, pixelRepresentation: 1, pixels: [-3, 0, 700, -32768], slope: 1, intercept: 0 };
    for (const ts of [TS.deflated, TS.implicit, TS.explicit]) {
      expect(Array.from(decodeDicom(encodeImage(spec, ts), `${ts}.dcm`).data), ts).toEqual([-3, 0, 700, -32768]);
    }
  });

  it('reads data sets with no meta header in explicit or implicit VR', () => {
    const elements = imageElements({ rows: 1, columns: 2, pixels: [5, 6] });
    for (const explicit of [true, false]) {
      const bytes = encodeElements(elements, explicit);
      expect(findRawDataSet(bytes)).toEqual({ offset: 0, transferSyntax: explicit ? TS.explicit : TS.implicit });
      expect(Array.from(decodeDicom(bytes, 'raw').data)).toEqual([5, 6]);
    }
  });

  it('names the element with an invalid VR, a pixel size mismatch, and a missing Pixel Data', async () => {
    const good = encodeImage({ rows: 1, columns: 2, pixels: [5, 6] });
    // Corrupt the Modality element's VR "CS" into "ZZ".
    const bad = good.slice();
    const at = Buffer.from(bad).indexOf(Buffer.from([0x08, 0x00, 0x60, 0x00, 0x43, 0x53]));
    bad[at + 4] = 0x5a;
    bad[at + 5] = 0x5a;
    const err = await rejection(readDicomFile(write(bad, 'vr.dcm')));
    expect(err.reason).toBe('invalid value representation "ZZ" for element (0008,0060)');
    expect(() => decodeDicom(encodeImage({ rows: 2, columns: 2, pixels: [1, 2, 3] }), 'short.dcm')).toThrow(
      'short.dcm: Pixel Data has 6 bytes but the header describes 8 (1 frame(s) of 2x2 at 16 bits)',
    );
    expect(() => decodeDicom(encodeImage({ rows: 1, columns: 2, frames: 1, pixels: [1, 2, 3, 4] }), 'long.dcm')).toThrow(/long\.dcm: Pixel Data has 8 bytes but the header describes 4/);
    const noPixels = encodeDicomFile([{ tag: 0x00080060, vr: 'CS', value: 'SR' }]);
    expect(() => decodeDicom(noPixels, 'report.dcm')).toThrow('report.dcm: no Pixel Data (7FE0,0010): not an image');
  });
});
