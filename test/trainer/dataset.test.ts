// Held-out splits of whole radiographs: by image, deterministic, never in both sets; no flips.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../../trainer/config.ts';
import { heldOutByName, prepareTrainingData } from '../../trainer/dataset.ts';
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
