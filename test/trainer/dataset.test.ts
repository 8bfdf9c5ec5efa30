// Held-out splits: whole radiographs by image, deterministic, never in both
// sets, no flips; a one-volume class's slices in slabs spread over the volume.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../../trainer/config.ts';
import { heldOutByKey, heldOutByName, prepareTrainingData, SLAB_MIN_SLICES, sliceSplit } from '../../trainer/dataset.ts';
import { readRunRecord } from '../../trainer/run-record.ts';
import { PRESETS } from '../../trainer/presets.ts';
import { loadRunConfig, trainSettings } from '../../trainer/run-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'medsynth-cxr-split-'));
process.env.MEDSYNTH_CACHE_DIR = join(dir, 'cache');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Small radiograph-like PNGs, each with a mark of its own so examples can be told apart. */
function writeImages(folder: string, names: string[]): void {
  for (const [k, name] of names.entries()) {
    // A ramp with a bright 2x2 mark whose place is the image's index.
    const data = Uint8Array.from({ length: 24 * 20 }, (_, i) => (i % 20) * 5 + Math.floor(i / 20));
    const at = (Math.floor(k / 9) * 2 + 2) * 20 + (k % 9) * 2 + 1;
    for (const o of [0, 1, 20, 21]) data[at + o] = 255;
    writeFileSync(join(folder, name), encodePng({ width: 20, height: 24, data, depth: 8, channels: 1 }));
  }
}

describe('radiograph data sets', () => {
  const names = Array.from({ length: 60 }, (_, i) => `cxr-${String(i).padStart(3, '0')}.png`);

  it('holds out whole images by a hash of their name: disjoint, deterministic, about 15%', async () => {
    const folder = mkdtempSync(join(dir, 'a-'));
    writeImages(folder, names);
    const config = await loadRunConfig('cxr-2d-64', ['data.target.shape=[16,16]']);
    const log: string[] = [];
    const d = await prepareTrainingData([folder], config, { onBadFile: 'fail', log: (l) => log.push(l) });
    const held = names.filter((n) => heldOutByName(join(folder, n)));
    expect(d.validation?.size).toBe(held.length);
    expect(d.train.size + d.validation!.size).toBe(names.length);
    expect(held.length).toBeGreaterThanOrEqual(3);
    expect(held.length).toBeLessThanOrEqual(18);
    // No image is in both sets: compare the examples themselves.
    const key = (x: Float32Array) => Array.from(x).join();
    const trainKeys = new Set(Array.from({ length: d.train.size }, (_, i) => key(d.train.get(i).x)));
    for (let i = 0; i < d.validation!.size; i++) expect(trainKeys.has(key(d.validation!.get(i).x))).toBe(false);
    expect(log.join('\n')).toMatch(new RegExp(`${d.train.size} training images, ${held.length} held out by file name hash`));
    expect(d.meta.data?.fit).toBe('contain');
    expect(d.meta.data?.heldOut).toBe('slabs'); // a new run's rule, recorded for evaluate
  });

  it('holds out whole patients where a metadata table beside the images gives patient ids', async () => {
    const root = mkdtempSync(join(dir, 'p-'));
    const folder = join(root, 'images');
    mkdirSync(folder);
    writeImages(folder, names);
    // Two images per patient, listed (with other columns) in ../metadata.csv, as public collections ship them.
    const patientOf = (i: number) => `P${String(Math.floor(i / 2)).padStart(3, '0')}`;
    const rows = names.map((n, i) => `images/${n},${i % 2 ? 'AP' : 'PA'},${patientOf(i)}`);
    writeFileSync(join(root, 'metadata.csv'), ['file,view,PatientID', ...rows].join('\n'));
    const config = await loadRunConfig('cxr-2d-64', ['data.target.shape=[16,16]']);
    const log: string[] = [];
    const d = await prepareTrainingData([folder], config, { onBadFile: 'fail', log: (l) => log.push(l) });
    const heldPatients = [...new Set(names.map((_, i) => patientOf(i)))].filter(heldOutByKey);
    expect(heldPatients.length).toBeGreaterThan(0);
    expect(d.validation?.size).toBe(2 * heldPatients.length); // every image of a held-out patient, none of the others
    expect(d.train.size + d.validation!.size).toBe(names.length);
    expect(log.join('\n')).toMatch(new RegExp(`held out by patient \\(hash of PatientID in .*metadata\\.csv: 30 patients, none on both sides\\)`));

    // A table that leaves an image out is an error naming it; one without patient ids means by image.
    writeFileSync(join(root, 'metadata.csv'), ['file,PatientID', ...rows.slice(1).map((r) => r.replace(/,(AP|PA),/, ','))].join('\n'));
    await expect(prepareTrainingData([folder], config, { onBadFile: 'fail', log: () => {} })).rejects.toThrow(/metadata\.csv: lists no patient for images\/cxr-000\.png/);
    writeFileSync(join(root, 'metadata.csv'), ['file,view', ...names.map((n) => `images/${n},AP`)].join('\n'));
    const byImage: string[] = [];
    await prepareTrainingData([folder], config, { onBadFile: 'fail', log: (l) => byImage.push(l) });
    expect(byImage.join('\n')).toMatch(/held out by file name hash/);
  });

  it('keeps every image on its side of the split when images are added', () => {
    const before = names.filter((n) => heldOutByName(`/data/${n}`));
    const more = [...names, ...Array.from({ length: 40 }, (_, i) => `new-${i}.png`)];
    expect(more.filter((n) => heldOutByName(`/elsewhere/${n}`)).filter((n) => names.includes(n))).toEqual(before);
  });

  it('never flips a radiograph preset left-right', () => {
    for (const [name, preset] of Object.entries(PRESETS)) {
      if (preset.meta.modality !== 'xray') continue;
      const flip = parseTrainConfig(trainSettings({ preset: name, train: {}, model: {}, meta: {}, data: {}, dataByLabel: {} } as never)).flip;
      expect(flip, name).toEqual([]);
    }
  });
});

describe('sliceSplit: the held-out slices of a one-volume class', () => {
  it.each([181, 64, SLAB_MIN_SLICES])('slabs over %i slices: three slabs of 5 percent at 1/6, 1/2, 5/6, every training slice at least 3 away from them', (n) => {
    const { train, heldOut, kind } = sliceSplit(n, 'slabs');
    expect(kind).toBe('slabs');
    const per = Math.max(1, Math.round((n * 0.15) / 3));
    expect(heldOut).toHaveLength(3 * per);
    // Held-out slices reach every third of the volume (the old tail split held out only its last 15%).
    for (const third of [0, 1, 2]) expect(heldOut.some((i) => i >= (third * n) / 3 && i < ((third + 1) * n) / 3), `third ${third}`).toBe(true);
    for (const t of train) for (const h of heldOut) expect(Math.abs(t - h)).toBeGreaterThan(2);
    expect(new Set([...train, ...heldOut]).size).toBe(train.length + heldOut.length);
    expect([...train, ...heldOut].every((i) => Number.isInteger(i) && i >= 0 && i < n)).toBe(true);
    // Only the gaps are lost: 2 slices either side of each slab.
    expect(train.length + heldOut.length).toBe(n - 3 * 2 * 2);
    expect(sliceSplit(n, 'slabs')).toEqual({ train, heldOut, kind });
  });

  it('tail: the last 15% after a gap of 2, as runs before the slabs held out (and small volumes still do)', () => {
    const n = 100;
    expect(sliceSplit(n, 'tail')).toEqual({ train: Array.from({ length: 83 }, (_, i) => i), heldOut: Array.from({ length: 15 }, (_, i) => 85 + i), kind: 'tail' });
    expect(sliceSplit(SLAB_MIN_SLICES - 1, 'slabs').kind).toBe('tail');
  });

  it('a run recorded before the slabs keeps its tail split on resume; a new config defaults to slabs', async () => {
    const run = mkdtempSync(join(dir, 'run-'));
    writeFileSync(join(run, 'run.json'), JSON.stringify({ config: { preset: 'brain-mri-2d-64', model: {}, meta: {}, train: {}, data: {}, dataByLabel: {} }, data: ['x.nii'] }));
    expect((await readRunRecord(run)).config.heldOut).toBe('tail');
    expect((await loadRunConfig('brain-mri-2d-64')).heldOut).toBe('slabs');
  });
});
