import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeJpeg, decodePng, readJpeg, readPng } from '../../../trainer/data/raster.ts';
import { ReadError } from '../../../trainer/data/types.ts';

const W = 40;
const H = 30;
/** A radiograph-like ramp with structure along both axes (so a transposition shows). */
const grey8 = Uint8Array.from({ length: W * H }, (_, i) => ((i % W) * 5 + Math.floor(i / W) * 3) % 256);
const grey16 = Uint16Array.from({ length: W * H }, (_, i) => (i % W) * 1500 + Math.floor(i / W) * 37);

/** Inserts a pHYs chunk (pixels per metre) after IHDR; PNG spec §11.3.5.3. */
function withPhys(png: Uint8Array, ppmX: number, ppmY: number): Uint8Array {
  const body = new Uint8Array(4 + 9);
  const v = new DataView(body.buffer);
  body.set([0x70, 0x48, 0x59, 0x73]); // "pHYs"
  v.setUint32(4, ppmX);
  v.setUint32(8, ppmY);
  body[12] = 1; // unit: metre
  const chunk = new Uint8Array(4 + body.length + 4);
  const c = new DataView(chunk.buffer);
  c.setUint32(0, 9);
  chunk.set(body, 4);
  c.setUint32(4 + body.length, crc32(body));
  const ihdrEnd = 8 + 8 + 13 + 4;
  return Uint8Array.from([...png.subarray(0, ihdrEnd), ...chunk, ...png.subarray(ihdrEnd)]);
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('PNG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsynth-raster-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads 8-bit grey as [1, H, W] with the stored values', async () => {
    const path = join(dir, 'cxr8.png');
    writeFileSync(path, encodePng({ width: W, height: H, data: grey8, depth: 8, channels: 1 }));
    const v = await readPng(path);
    expect(v.shape).toEqual([1, H, W]);
    expect(v.spacing).toEqual([1, 1, 1]);
    expect(v.source).toBe(path);
    expect(Array.from(v.data)).toEqual(Array.from(grey8));
    expect(v.notes).toBeUndefined();
  });

  it('reads 16-bit grey with the full 0..65535 range', () => {
    const data = grey16.slice();
    data[0] = 65535;
    const v = decodePng(encodePng({ width: W, height: H, data, depth: 16, channels: 1 }), 'cxr16.png');
    expect(v.shape).toEqual([1, H, W]);
    expect(Array.from(v.data)).toEqual(Array.from(data));
  });

  it('folds RGB to luminance with a note, and reads grey stored as RGBA as grey', () => {
    const rgb = new Uint8Array(W * H * 3);
    rgb.set([200, 100, 50], 0);
    const v = decodePng(encodePng({ width: W, height: H, data: rgb, depth: 8, channels: 3 }), 'colour.png');
    expect(v.data[0]).toBe(Math.fround(0.299 * 200 + 0.587 * 100 + 0.114 * 50));
    expect(v.notes).toEqual(['colour converted to luminance (0.299 R + 0.587 G + 0.114 B)']);
    const rgba = new Uint8Array(W * H * 4);
    grey8.forEach((g, i) => rgba.set([g, g, g, 255], 4 * i));
    const grey = decodePng(encodePng({ width: W, height: H, data: rgba, depth: 8, channels: 4 }), 'grey-rgba.png');
    expect(Array.from(grey.data)).toEqual(Array.from(grey8));
    expect(grey.notes).toBeUndefined();
  });

  it('takes the spacing from pHYs when it is in pixels per metre', () => {
    const png = withPhys(encodePng({ width: W, height: H, data: grey8, depth: 8, channels: 1 }), 5000, 4000);
    const v = decodePng(png, 'phys.png');
    expect(v.spacing).toEqual([1, 0.25, 0.2]);
  });

  it('names a corrupt PNG', async () => {
    const good = encodePng({ width: W, height: H, data: grey8, depth: 8, channels: 1 });
    const path = join(dir, 'cut.png');
    writeFileSync(path, good.subarray(0, 60));
    const err = await readPng(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadError);
    expect((err as ReadError).file).toBe(path);
    expect((err as ReadError).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: corrupt PNG: `));
  });
});

describe('JPEG', () => {
  const rgba = (f: (i: number) => [number, number, number]) => {
    const out = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) out.set([...f(i), 255], 4 * i);
    return out;
  };

  it('reads a grey JPEG as [1, H, W] within JPEG error of the original', async () => {
    const smooth = (i: number) => Math.round(((i % W) / W) * 200 + (Math.floor(i / W) / H) * 50);
    const jpg = encodeJpeg({ width: W, height: H, data: rgba((i) => [smooth(i), smooth(i), smooth(i)]) }, 100).data;
    const dir = mkdtempSync(join(tmpdir(), 'medsynth-jpeg-'));
    const path = join(dir, 'cxr.jpg');
    writeFileSync(path, jpg);
    const v = await readJpeg(path);
    rmSync(dir, { recursive: true, force: true });
    expect(v.shape).toEqual([1, H, W]);
    expect(v.spacing).toEqual([1, 1, 1]);
    let worst = 0;
    for (let i = 0; i < W * H; i++) worst = Math.max(worst, Math.abs(v.data[i] - smooth(i)));
    expect(worst).toBeLessThanOrEqual(4);
    // Columns brighten to the right, rows downward: the layout is [H, W].
    expect(v.data[W - 1]).toBeGreaterThan(v.data[0] + 150);
    expect(v.data[(H - 1) * W]).toBeGreaterThan(v.data[0] + 30);
  });

  it('folds a colour JPEG to luminance with a note', () => {
    const v = decodeJpeg(encodeJpeg({ width: W, height: H, data: rgba(() => [220, 40, 40]) }, 95).data, 'red.jpg');
    expect(v.data[100]).toBeCloseTo(0.299 * 220 + 0.587 * 40 + 0.114 * 40, -1);
    expect(v.notes).toEqual(['colour converted to luminance (0.299 R + 0.587 G + 0.114 B)']);
  });

  it('names a corrupt JPEG', () => {
    expect(() => decodeJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]), 'bad.jpg')).toThrow(/^bad\.jpg: corrupt or unsupported JPEG: /);
  });
});
