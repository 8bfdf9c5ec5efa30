// Hostile inputs cost a ReadError naming the file and the limit, before the
// size they declare is allocated; corruption the formats can detect is refused.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNifti, decodePng, readImageFile } from '../../../trainer/data/index.ts';
import { pngDeclaring } from '../../helpers/hostile-files.ts';

const FIX = fileURLToPath(new URL('../../fixtures/nifti/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'medsynth-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reader limits and integrity', () => {
  it('refuses a PNG declaring 20000 x 20000 pixels before decoding it', () => {
    expect(() => decodePng(pngDeclaring(20000, 20000), 'huge.png')).toThrow(/^huge\.png: PNG of 20000x20000 is over the reader limit of 64 M pixels \(MAX_IMAGE_PIXELS\)/);
  });

  it('refuses a PNG whose chunk CRC does not match', () => {
    const png = encodePng({ width: 4, height: 3, data: Uint8Array.from({ length: 12 }, (_, i) => i * 20), depth: 8, channels: 1 }).slice();
    png[png.length - 20] ^= 0x40; // inside the IDAT data; its CRC no longer matches
    expect(() => decodePng(png, 'flipped.png')).toThrow(/^flipped\.png: corrupt PNG: .*crc/i);
  });

  it('stops a .nii.gz bomb at the size its own header declares', () => {
    // The fixture's header and voxels, then 64 MiB of zeros it does not declare: gzip makes that ~64 KiB.
    const nii = readFileSync(join(FIX, 'ch2bet-24x28x20-uint8.nii'));
    const bomb = gzipSync(Buffer.concat([nii, Buffer.alloc(64 << 20)]));
    expect(bomb.length).toBeLessThan(1 << 20);
    expect(() => decodeNifti(bomb, 'bomb.nii.gz')).toThrow(/^bomb\.nii\.gz: inflates to more than the \d+ bytes its header declares/);
    // The same file without the padding reads.
    expect(decodeNifti(gzipSync(nii), 'ok.nii.gz').shape).toEqual([20, 28, 24]);
  });

  it('refuses a .nii.gz with a flipped byte in its stream or a wrong CRC-32 trailer', () => {
    const gz = readFileSync(join(FIX, 'ch2bet-24x28x20-uint8.nii.gz'));
    expect(gunzipSync(gz).length).toBeGreaterThan(0);
    const flipped = Buffer.from(gz);
    flipped[Math.floor(gz.length / 2)] ^= 0x01;
    expect(() => decodeNifti(flipped, 'flipped.nii.gz')).toThrow(/^flipped\.nii\.gz: corrupt gzip stream/);
    const trailer = Buffer.from(gz);
    trailer[trailer.length - 8] ^= 0xff; // the CRC-32 of the inflated data
    expect(() => decodeNifti(trailer, 'crc.nii.gz')).toThrow(/^crc\.nii\.gz: corrupt gzip stream: incorrect data check/);
  });

  it('reads only regular files: a FIFO and /dev/zero are refused at once, naming the file', async () => {
    const fifo = join(dir, 'pipe.nii');
    execFileSync('mkfifo', [fifo]);
    await expect(readImageFile(fifo)).rejects.toThrow(/pipe\.nii: not a regular file \(a FIFO\)/);
    await expect(readImageFile('/dev/zero')).rejects.toThrow(/^\/dev\/zero: not a regular file \(a device or socket\)/);
    const folder = join(dir, 'scan.nii');
    execFileSync('mkdir', [folder]);
    writeFileSync(join(folder, 'x'), 'x');
    await expect(readImageFile(folder)).rejects.toThrow(/scan\.nii: not a regular file \(a folder\)/);
  });
});
