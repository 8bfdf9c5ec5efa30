import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFormat, formatByName, parseOnBadFile, readDataset, readImageFile, ReadError } from '../../../trainer/data/index.ts';

const FIX = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const png = encodePng({ width: 4, height: 3, data: Uint8Array.from({ length: 12 }, (_, i) => i * 20), depth: 8, channels: 1 });
const jpg = encodeJpeg({ width: 8, height: 8, data: new Uint8Array(256).fill(128) }, 90).data;

describe('readImageFile and the format lookup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-index-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('reads each format by extension', async () => {
    expect((await readImageFile(`${FIX}nifti/ch2bet-24x28x20-uint8.nii`)).shape).toEqual([20, 28, 24]);
    expect((await readImageFile(`${FIX}nifti/ch2bet-24x28x20-uint8.nii.gz`)).shape).toEqual([20, 28, 24]);
    expect((await readImageFile(`${FIX}dicom/MR_small.dcm`)).shape).toEqual([1, 64, 64]);
    expect((await readImageFile(put('a.png', png))).shape).toEqual([1, 3, 4]);
    expect((await readImageFile(put('a.JPG', jpg))).shape).toEqual([1, 8, 8]);
    expect((await readImageFile(put('b.jpeg', jpg))).shape).toEqual([1, 8, 8]);
  });

  it('tries extensionless and UID-named files as DICOM, and trusts content over a wrong extension', async () => {
    const ct = readFileSync(`${FIX}dicom/CT_small.dcm`);
    expect((await readImageFile(put('IM0001', ct))).modality).toBe('ct');
    expect((await readImageFile(put('1.3.6.1.4.1.5962.1.1', ct))).modality).toBe('ct');
    expect((await readImageFile(put('raw-no-meta', readFileSync(`${FIX}dicom/no_meta.dcm`)))).shape).toEqual([1, 128, 128]);
    expect((await readImageFile(put('actually-png.jpg', png))).shape).toEqual([1, 3, 4]);
    expect(detectFormat('x.dat', png).name).toBe('png');
    expect(detectFormat('scan.nii.gz', new Uint8Array(10)).name).toBe('nifti');
  });

  it('throws a ReadError naming the file for an unknown format', async () => {
    const p = put('notes.txt', new TextEncoder().encode('not an image'));
    await expect(readImageFile(p)).rejects.toThrow(`${p}: unknown image format (extension ".txt", no known signature)`);
    await expect(readImageFile(p)).rejects.toBeInstanceOf(ReadError);
    const q = put('IM0002', new TextEncoder().encode('also not an image, but named like a DICOM file'));
    await expect(readImageFile(q)).rejects.toThrow(`${q}: not a DICOM file`);
  });

  it('looks formats up by name and throws on unknown names', () => {
    expect(formatByName('dicom').extensions).toContain('.dcm');
    expect(() => formatByName('tiff')).toThrow('unknown image format "tiff": expected one of dicom, png, jpeg, nifti');
    expect(parseOnBadFile('skip')).toBe('skip');
    expect(() => parseOnBadFile('ignore')).toThrow('--on-bad-file: expected "skip" or "fail", got "ignore"');
  });
});

describe('readDataset', () => {
  // data/
  //   a-ct.dcm            good (CT_small)
  //   b-truncated.dcm     bad  (MR_truncated)
  //   c-cxr.png           good
  //   d-badVR.dcm         bad  (badVR)
  //   e-broken.png        bad  (cut short)
  //   notes.txt           not an image: ignored
  //   .hidden.dcm         hidden: ignored without a count
  //   series/slice-*.dcm  good: one volume of 4 slices
  //   z-brain.nii.gz      good
  const root = mkdtempSync(join(tmpdir(), 'medsynth-dataset-'));
  const data = join(root, 'data');
  beforeAll(() => {
    mkdirSync(join(data, 'series'), { recursive: true });
    copyFileSync(`${FIX}dicom/CT_small.dcm`, join(data, 'a-ct.dcm'));
    copyFileSync(`${FIX}dicom/MR_truncated.dcm`, join(data, 'b-truncated.dcm'));
    writeFileSync(join(data, 'c-cxr.png'), png);
    copyFileSync(`${FIX}dicom/badVR.dcm`, join(data, 'd-badVR.dcm'));
    writeFileSync(join(data, 'e-broken.png'), png.subarray(0, 40));
    writeFileSync(join(data, 'notes.txt'), 'scanner notes');
    writeFileSync(join(data, '.hidden.dcm'), 'junk');
    for (const f of ['slice-a.dcm', 'slice-b.dcm', 'slice-c.dcm', 'slice-d.dcm']) copyFileSync(`${FIX}dicom-series/${f}`, join(data, 'series', f));
    copyFileSync(`${FIX}nifti/ch2bet-24x28x20-uint8.nii.gz`, join(data, 'z-brain.nii.gz'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('skip: returns the good volumes in path order, lists the bad files, and counts them', async () => {
    const lines: string[] = [];
    const ds = await readDataset([data], { onBadFile: 'skip', log: (s) => lines.push(s) });
    expect(ds.volumes.map((v) => v.source)).toEqual([join(data, 'a-ct.dcm'), join(data, 'c-cxr.png'), join(data, 'series'), join(data, 'z-brain.nii.gz')]);
    expect(ds.volumes.map((v) => v.shape)).toEqual([[1, 128, 128], [1, 3, 4], [4, 64, 64], [20, 28, 24]]);
    expect(ds.skipped.map((s) => s.file)).toEqual([join(data, 'b-truncated.dcm'), join(data, 'd-badVR.dcm'), join(data, 'e-broken.png')]);
    expect(ds.skipped[0].reason).toMatch(/^truncated file: Pixel Data/);
    expect(ds.skipped[1].reason).toMatch(/"1A" is not a valid IS/);
    expect(ds.skipped[2].reason).toMatch(/^corrupt PNG/);
    expect(ds.summary).toBe('read 10 files: 4 volumes, 3 skipped (bad files), 1 ignored (not images)');
    expect(lines).toContain(`skipped ${join(data, 'b-truncated.dcm')}: ${ds.skipped[0].reason}`);
    expect(lines.at(-1)).toBe(ds.summary);
  });

  it('fail: throws the first bad file\'s ReadError', async () => {
    const err = await readDataset([data], { onBadFile: 'fail' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadError);
    expect((err as ReadError).file).toBe(join(data, 'b-truncated.dcm'));
    expect((err as ReadError).message).toMatch(new RegExp(`b-truncated\\.dcm: truncated file`));
  });

  it('gives the same result for the inputs in any order, and counts missing paths as bad', async () => {
    const files = ['z-brain.nii.gz', 'c-cxr.png', 'a-ct.dcm'].map((f) => join(data, f));
    const one = await readDataset(files, { onBadFile: 'skip' });
    const two = await readDataset([...files].reverse(), { onBadFile: 'skip' });
    expect(two.volumes.map((v) => v.source)).toEqual(one.volumes.map((v) => v.source));
    expect(one.summary).toBe('read 3 files: 3 volumes, 0 skipped (bad files)');
    const missing = await readDataset([join(data, 'nope.dcm'), files[1]], { onBadFile: 'skip' });
    expect(missing.skipped.map((s) => s.file)).toEqual([join(data, 'nope.dcm')]);
    expect(missing.skipped[0].reason).toMatch(/^no such file or folder/);
    expect(missing.summary).toBe('read 2 files: 1 volume, 1 skipped (bad files)');
  });

  it('groups slices by folder and SeriesInstanceUID: the same series in two folders is two volumes', async () => {
    // MR_small.dcm shares the series' SeriesInstanceUID (the slices were made from it) but lies in another folder.
    const other = mkdtempSync(join(root, 'other-'));
    copyFileSync(`${FIX}dicom/MR_small.dcm`, join(other, 'MR_small.dcm'));
    const ds = await readDataset([join(data, 'series'), other], { onBadFile: 'fail' });
    // Ordered by first file: <root>/data/series/... before <root>/other-.../MR_small.dcm.
    expect(ds.volumes.map((v) => v.shape)).toEqual([[4, 64, 64], [1, 64, 64]]);
    expect(ds.summary).toBe('read 5 files: 2 volumes, 0 skipped (bad files)');
  });

  it('skips every slice of a series that does not form a volume, naming the folder', async () => {
    const bad = mkdtempSync(join(root, 'dup-'));
    copyFileSync(`${FIX}dicom-series/slice-d.dcm`, join(bad, 'one.dcm'));
    copyFileSync(`${FIX}dicom/MR_small.dcm`, join(bad, 'two.dcm')); // same series, same position as slice-d
    const ds = await readDataset([bad], { onBadFile: 'skip' });
    expect(ds.volumes).toEqual([]);
    expect(ds.skipped.map((s) => s.file)).toEqual([join(bad, 'one.dcm'), join(bad, 'two.dcm')]);
    expect(ds.skipped[0].reason).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: one\\.dcm and two\\.dcm are at the same position`));
    await expect(readDataset([bad], { onBadFile: 'fail' })).rejects.toThrow(`${bad}: one.dcm and two.dcm are at the same position`);
  });
});
