import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/config.ts';
import { IntensityMappingSchema, toRealUnits } from '../../../shared/intensity.ts';
import { PreprocessError } from '../../../trainer/preprocess/common.ts';
import { parsePipelineConfig, preparePipeline } from '../../../trainer/preprocess/pipeline.ts';
import { layeredSphere, volumeOf } from './phantoms.ts';

// The same 20 mm-radius object scanned at 1 mm and at 2 mm.
const fine = layeredSphere({ shape: [48, 48, 48], spacing: [1, 1, 1], R: 20, seed: 1, source: 'fine.nii' });
const coarse = layeredSphere({ shape: [24, 24, 24], spacing: [2, 2, 2], R: 20, seed: 2, source: 'coarse.nii' });
const nyul3d = { target: { shape: [16, 16, 16] as [number, number, number] }, intensity: { kind: 'nyul' as const } };

const inRange = (xs: Float32Array[]) => xs.every((x) => x.every((v) => v >= -1 && v <= 1));

describe('preparePipeline', () => {
  it('rejects mixed spacing without a target spacing, naming both files and spacings', () => {
    let err: unknown;
    try {
      preparePipeline([fine, coarse], nyul3d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PreprocessError);
    const msg = (err as Error).message;
    expect(msg).toContain('fine.nii has [1, 1, 1] mm');
    expect(msg).toContain('coarse.nii has [2, 2, 2] mm');
    expect(msg).toMatch(/mixed voxel spacing/);
    expect(msg).toMatch(/target\.spacing/);
  });

  it('resamples to the target spacing: both scans land on one grid and agree', () => {
    const p = preparePipeline([fine, coarse], { ...nyul3d, target: { shape: [24, 24, 24], spacing: [2, 2, 2] } });
    expect(p.examples).toHaveLength(2);
    expect(p.examples.every((x) => x.length === 24 ** 3)).toBe(true);
    expect(p.shape).toEqual([24, 24, 24]);
    expect(p.spacing).toEqual([2, 2, 2]);
    expect(p.sources).toEqual(['fine.nii', 'coarse.nii']);
    expect(inRange(p.examples)).toBe(true);
    expect(p.report.some((l) => l.startsWith('fine.nii: resampled [48, 48, 48] at [1, 1, 1] mm -> [24, 24, 24] at [2, 2, 2] mm'))).toBe(true);
    expect(p.report.some((l) => l.startsWith('coarse.nii: resampled'))).toBe(false); // already on the grid
    // the same anatomy: mean absolute difference is small next to the [-1, 1] range
    let diff = 0;
    for (let i = 0; i < 24 ** 3; i++) diff += Math.abs(p.examples[0][i] - p.examples[1][i]);
    expect(diff / 24 ** 3).toBeLessThan(0.12);
    // and the object sits in the same place: the non-background voxels overlap
    let inter = 0;
    let union = 0;
    for (let i = 0; i < 24 ** 3; i++) {
      const a = p.examples[0][i] > -0.9;
      const b = p.examples[1][i] > -0.9;
      inter += +(a && b);
      union += +(a || b);
    }
    expect(inter / union).toBeGreaterThan(0.9);
    // the mapping is a valid checkpoint mapping
    expect(IntensityMappingSchema.parse(p.mapping)).toEqual(p.mapping);
    expect(p.mapping.kind).toBe('nyul');
  });

  it('takes volumes of one spacing and different shapes by crop/pad (no resampling)', () => {
    const other = layeredSphere({ shape: [20, 30, 26], spacing: [2, 2, 2], R: 18, seed: 3, source: 'other.nii' });
    const p = preparePipeline([coarse, other], nyul3d);
    expect(p.spacing).toEqual([2, 2, 2]);
    expect(p.examples.map((x) => x.length)).toEqual([4096, 4096]);
    expect(p.report.some((l) => l.includes('resampled'))).toBe(false);
  });

  it('centres the crop on the foreground and pads with -1 (background in model space)', () => {
    // a 5 mm sphere near the W end of a long volume
    const v = volumeOf([12, 12, 40], [1, 1, 1], (d, h, w) => (Math.hypot(d - 5.5, h - 5.5, w - 30) < 5 ? 100 : 0), { source: 'off.nii' });
    const tissue = v.data.reduce((n, x) => n + +(x === 100), 0);
    const p = preparePipeline([v], { target: { shape: [16, 16, 16] }, intensity: { kind: 'linear', low: 0, high: 200 } });
    const x = p.examples[0];
    expect(x.reduce((n, y) => n + +(y === 0), 0)).toBe(tissue); // the whole sphere is inside the window
    expect(x[(8 * 16 + 8) * 16 + 8]).toBe(0); // and in its middle
    for (let i = 0; i < 16 * 16; i++) expect(x[i]).toBe(-1); // the padded first D plane
  });

  it('rejects mixed modalities, and a CT window over MRI', () => {
    const ct = { ...coarse, modality: 'ct', source: 'head-ct.nii' };
    expect(() => preparePipeline([coarse, ct], nyul3d)).toThrow(/mixed modalities \(coarse\.nii is mri, head-ct\.nii is ct\)/);
    expect(() => preparePipeline([coarse], { ...nyul3d, intensity: { kind: 'hu-window' } })).toThrow(/Hounsfield window needs CT data, not mri/);
    expect(() => preparePipeline([coarse], { ...nyul3d, modality: 'ct' })).toThrow(/coarse\.nii: modality mri does not match the configured modality ct/);
  });

  it('CT to 2D slices: window mapping, empty slices skipped, in-plane crop, round trip to HU', () => {
    const ct = layeredSphere({ shape: [20, 40, 40], spacing: [2, 1, 1], R: 12, air: -1000, seed: 4, source: 'ct.nii' });
    ct.modality = 'ct';
    const p = preparePipeline([ct], { target: { shape: [32, 32] }, intensity: { kind: 'hu-window', level: 40, width: 400 } });
    expect(p.mapping).toEqual({ kind: 'hu-window', level: 40, width: 400 });
    expect(p.shape).toEqual([32, 32]);
    expect(p.spacing).toEqual([1, 1]);
    // the sphere spans |z| < 12 mm: slice centres at (d - 9.5) * 2 mm, 12 slices d = 4..15; the edge ones are small
    expect(p.examples.length).toBeGreaterThanOrEqual(8);
    expect(p.examples.length).toBeLessThanOrEqual(12);
    expect(p.sources.every((s) => /^ct\.nii#axial=\d+$/.test(s))).toBe(true);
    expect(p.sources).not.toContain('ct.nii#axial=0');
    expect(p.examples.every((x) => x.length === 32 * 32)).toBe(true);
    expect(inRange(p.examples)).toBe(true);
    // the middle slice's centre is tissue (~80 HU), its corner air (-1 -> -160 HU, the window's floor)
    const mid = p.examples[p.sources.indexOf('ct.nii#axial=10')];
    const hu = toRealUnits(mid, p.mapping);
    expect(hu[16 * 32 + 16]).toBeGreaterThan(40);
    expect(hu[0]).toBeCloseTo(-160, 3);
    expect(p.report.some((l) => /ct\.nii: \d+ of 20 axial slices kept \(\d+ below 5% foreground\)/.test(l))).toBe(true);
  });

  it('2D slices along another axis, with a target spacing', () => {
    const v = layeredSphere({ shape: [20, 40, 40], spacing: [2, 1, 1], R: 12, seed: 5 });
    const p = preparePipeline([v], { target: { shape: [16, 16], spacing: [2, 2] }, intensity: { kind: 'linear', low: 0, high: 255 }, slices: { axis: 'coronal' } });
    // coronal slices are [D, W] = 20 x 40 at [2, 1] -> resampled in-plane to 20 x 20 at [2, 2], cropped to 16 x 16
    expect(p.spacing).toEqual([2, 2]);
    expect(p.examples[0].length).toBe(256);
    expect(p.sources[0]).toMatch(/#coronal=\d+$/);
    expect(p.mapping).toEqual({ kind: 'linear', low: 0, high: 255, unit: '' });
  });

  it('reuses a given mapping (held-out data gets the training fit)', () => {
    const train = preparePipeline([coarse], nyul3d);
    const held = preparePipeline([layeredSphere({ shape: [24, 24, 24], spacing: [2, 2, 2], R: 20, seed: 9, source: 'held.nii' })], nyul3d, {
      mapping: train.mapping,
    });
    expect(held.mapping).toEqual(train.mapping);
    expect(held.report.some((l) => l.includes('(given)'))).toBe(true);
    expect(() => preparePipeline([coarse], { ...nyul3d, intensity: { kind: 'linear' } }, { mapping: train.mapping })).toThrow(/nyul mapping does not fit/);
  });

  it('fits a min-max range when none is given', () => {
    const p = preparePipeline([coarse], { target: { shape: [8, 8, 8] }, intensity: { kind: 'linear' } });
    let lo = Infinity;
    let hi = -Infinity;
    coarse.data.forEach((x) => ((lo = Math.min(lo, x)), (hi = Math.max(hi, x))));
    expect(p.mapping).toMatchObject({ kind: 'linear', low: lo, high: hi });
  });

  it('validates the config in one place, naming the field', () => {
    const bad = (raw: unknown) => {
      try {
        parsePipelineConfig(raw);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).field;
      }
      return 'accepted';
    };
    expect(bad({ target: { shape: [8, 8], spacing: [1, 1, 1] }, intensity: { kind: 'nyul' } })).toBe('data.target.spacing');
    expect(bad({ target: { shape: [8, 8, 8] }, intensity: { kind: 'nyul' }, slices: { axis: 'axial' } })).toBe('data.slices');
    expect(bad({ target: { shape: [8, 8, 8] }, intensity: { kind: 'fancy' } })).toBe('data.intensity.kind');
    expect(bad({ target: { shape: [8, 8, 8] }, intensity: { kind: 'linear', low: 5 } })).toBe('data.intensity.high');
    expect(bad({ target: { shape: [8, 8, 8] }, intensity: { kind: 'nyul', landmarks: [50, 20] } })).toBe('data.intensity.landmarks');
    expect(bad({ target: { shape: [8, 0, 8] }, intensity: { kind: 'nyul' } })).toMatch(/^data\.target\.shape/);
    const ok = parsePipelineConfig({ target: { shape: [8, 8] }, intensity: { kind: 'nyul' } });
    expect(ok.intensity).toMatchObject({ pLow: 1, pHigh: 99, sMin: 0, sMax: 100 });
    expect(ok.foreground).toEqual({ huThreshold: -500, fraction: 0.1, largestComponent: true, fillHoles: true });
  });

  it('rejects non-finite voxels and 2D images for a 3D target', () => {
    const nan = { ...coarse, data: coarse.data.slice(), source: 'nan.nii' };
    nan.data[5] = NaN;
    expect(() => preparePipeline([nan], nyul3d)).toThrow(/nan\.nii: 1 voxels are not finite/);
    const image = layeredSphere({ shape: [1, 24, 24], spacing: [1, 2, 2], R: 20, source: 'img.png' });
    expect(() => preparePipeline([image], nyul3d)).toThrow(/img\.png: a 2D image/);
  });
});

describe('preparePipeline: whole radiographs (target.fit contain, per-image percentile window)', () => {
  const radiograph = (h: number, w: number, gain: number, source: string) => {
    const data = new Float32Array(h * w);
    for (let i = 0; i < data.length; i++) data[i] = gain * ((i % w) + Math.floor(i / w)); // a ramp, exposure `gain`
    return { data, shape: [1, h, w] as [number, number, number], spacing: [1, 1, 1] as [number, number, number], source };
  };
  const config = { modality: 'xray' as const, target: { shape: [32, 32] as [number, number], fit: 'contain' as const }, intensity: { kind: 'percentile' as const, pLow: 0, pHigh: 100 } };

  it('makes one example per image, none cropped or dropped, windowed on its own percentiles', () => {
    const p = preparePipeline([radiograph(256, 200, 1, 'a.png'), radiograph(100, 300, 40, 'b.png')], config);
    expect(p.examples).toHaveLength(2);
    expect(p.sources).toEqual(['a.png', 'b.png']);
    expect(p.fit).toBe('contain');
    for (const x of p.examples) {
      // A different exposure gives the same window: each example spans [-1, 1] inside its fitted region.
      const inside = [...x].filter((v) => v > -1);
      expect(Math.max(...inside)).toBeGreaterThan(0.9);
      expect(Math.min(...x)).toBe(-1);
    }
    // b (100 x 300) fits as 11 x 32 rows: the rows above and below are padding.
    const b = p.examples[1];
    expect(b.subarray(0, 32).every((v) => v === -1)).toBe(true);
    expect(b.subarray(16 * 32, 17 * 32).some((v) => v > -1)).toBe(true);
    // Samples come back as display grey levels, with the window recorded for evaluation.
    expect(p.mapping).toEqual({ kind: 'linear', low: 0, high: 255, unit: '', window: { pLow: 0, pHigh: 100 } });
  });

  it('names the file of a constant image', () => {
    const flat = { ...radiograph(64, 64, 0, 'blank.png') };
    expect(() => preparePipeline([flat], config)).toThrow(/blank\.png: percentile window: the image is constant/);
  });

  it('rejects contain with a 3D target or a spacing, and percentile without contain, naming the field', () => {
    expect(() => parsePipelineConfig({ ...config, target: { shape: [8, 8, 8], fit: 'contain' } })).toThrow(/data\.target\.fit/);
    expect(() => parsePipelineConfig({ ...config, target: { shape: [8, 8], fit: 'contain', spacing: [1, 1] } })).toThrow(/data\.target\.spacing/);
    expect(() => parsePipelineConfig({ ...config, target: { shape: [8, 8] } })).toThrow(/data\.intensity\.kind.*contain/);
  });
});
