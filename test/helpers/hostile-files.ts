// Small files that declare huge sizes, for the reader-limit tests and the
// peak-memory probe.
import { createGzip, crc32 } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { encodeNiftiFixture } from '../fixtures/nifti-writer.ts';

/** A real 4x3 PNG whose IHDR then declares `width` x `height`, with a correct IHDR CRC. */
export function pngDeclaring(width: number, height: number): Uint8Array {
  const png = encodePng({ width: 4, height: 3, data: new Uint8Array(12), depth: 8, channels: 1 }).slice();
  const view = new DataView(png.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  view.setUint32(29, crc32(png.subarray(12, 29))); // over the chunk type and data
  return png;
}

/**
 * A .nii.gz whose header declares an 8x8x8 uint8 volume, followed by
 * `zeroBytes` of zeros: a few MB on disk for a GiB inflated. Streamed, so
 * making it costs no more memory than its compressed size.
 */
export async function niftiGzipBomb(zeroBytes: number): Promise<Buffer> {
  const head = encodeNiftiFixture({ dims: [8, 8, 8], pixdim: [1, 1, 1], datatype: 'uint8', values: new Array(512).fill(1) });
  const gz = createGzip({ level: 1 });
  const parts: Buffer[] = [];
  gz.on('data', (d: Buffer) => parts.push(d));
  const ended = new Promise((resolve) => gz.on('end', resolve));
  gz.write(head);
  const chunk = Buffer.alloc(1 << 20);
  for (let left = zeroBytes; left > 0; left -= chunk.length) {
    if (!gz.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((resolve) => gz.once('drain', resolve));
  }
  gz.end();
  await ended;
  return Buffer.concat(parts);
}
