import { describe, expect, it } from 'vitest';
import { decodeRleFrame } from '../../../trainer/data/dicom-rle.ts';

/** An RLE frame (PS3.5 G.5): 64-byte header with the segment count and offsets, then the segments. */
function frame(segments: number[][]): Uint8Array {
  const header = new Uint32Array(16);
  header[0] = segments.length;
  let at = 64;
  segments.forEach((s, i) => {
    header[i + 1] = at;
    at += s.length;
  });
  const out = new Uint8Array(at);
  out.set(new Uint8Array(header.buffer), 0);
  let p = 64;
  for (const s of segments) {
    out.set(s, p);
    p += s.length;
  }
  return out;
}

describe('decodeRleFrame (DICOM PS3.5 Annex G)', () => {
  it('decodes PackBits literal runs, replicate runs and the -128 no-op', () => {
    // 2 literal bytes (n = 1), -128 no-op, 3 copies of 9 (n = -2), 1 literal (n = 0), even-length pad byte.
    const seg = [1, 4, 5, 0x80, 0xfe, 9, 0, 7, 0];
    expect(Array.from(decodeRleFrame(frame([seg]), 2, 3, 1, 8))).toEqual([4, 5, 9, 9, 9, 7]);
  });

  it('puts the most significant byte segment first and writes little-endian 16-bit samples', () => {
    const hi = [0xfd, 0x01]; // 4 x 0x01
    const lo = [3, 0x02, 0x03, 0x04, 0xff]; // 0x02, 0x03, 0x04, 0xff
    const out = decodeRleFrame(frame([hi, lo]), 2, 2, 1, 16);
    expect(Array.from(new Uint16Array(out.buffer))).toEqual([0x0102, 0x0103, 0x0104, 0x01ff]);
  });

  it('interleaves the samples of an RGB frame', () => {
    const out = decodeRleFrame(frame([[0xff, 10], [0xff, 20], [1, 30, 31]]), 1, 2, 3, 8);
    expect(Array.from(out)).toEqual([10, 20, 30, 10, 20, 31]);
  });

  it('rejects a wrong segment count, short segments and bad offsets', () => {
    expect(() => decodeRleFrame(frame([[0xff, 1]]), 1, 2, 1, 16)).toThrow('RLE: header declares 1 segments, expected 2 (1 sample(s) x 2 byte(s))');
    expect(() => decodeRleFrame(frame([[0xff, 1]]), 2, 2, 1, 8)).toThrow('RLE: segment 1 decodes to 2 bytes, expected 4 (2x2)');
    expect(() => decodeRleFrame(frame([[5, 1, 2]]), 1, 4, 1, 8)).toThrow('RLE: segment 1 decodes to 2 bytes, expected 4 (1x4)');
    const bad = frame([[0xfd, 1]]);
    new DataView(bad.buffer).setUint32(4, 9999, true);
    expect(() => decodeRleFrame(bad, 2, 2, 1, 8)).toThrow('RLE: segment 1 spans bytes 9999..66 outside the 66-byte frame');
    expect(() => decodeRleFrame(new Uint8Array(10), 1, 1, 1, 8)).toThrow('shorter than the 64-byte RLE header');
  });
});
