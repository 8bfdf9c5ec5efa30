// DICOM RLE Lossless (transfer syntax 1.2.840.10008.1.2.5) frame decoder,
// after DICOM PS3.5 Annex G "Encapsulated RLE Compressed Images".
//
// Written here because npm offers no maintained pure-JS decoder to depend on
// (dicom-rle is a 0.0.x single-author package; the codec suites pull in wasm
// builds or all of dcmjs), and the annex is short.
//
// One compressed frame is (G.5): a 64-byte RLE Header of 16 little-endian
// uint32 — the number of segments (1..15), then the byte offset of each
// segment from the start of the header (0 for unused) — followed by the
// segments. G.2: each segment holds one byte plane of one sample, planes
// ordered sample by sample, and within a sample from the most significant byte
// down. G.3.1: a segment is PackBits runs: a header byte n (int8), then
//   0 <= n <= 127   -> copy the next n + 1 bytes literally,
//   -127 <= n <= -1 -> repeat the next byte -n + 1 times,
//   n = -128        -> no operation.
// Each segment decodes to rows * columns bytes (one per pixel); encoders may
// pad a segment to even length, so decoding stops once the plane is full.

/**
 * Decodes one RLE frame to native pixel bytes: little endian, samples of a
 * pixel interleaved (Planar Configuration 0), bitsAllocated / 8 bytes each —
 * the layout of uncompressed Explicit VR Little Endian pixel data.
 * Throws an Error saying what is wrong on a malformed frame.
 */
export function decodeRleFrame(frame: Uint8Array, rows: number, columns: number, samplesPerPixel: number, bitsAllocated: number): Uint8Array {
  if (bitsAllocated % 8 !== 0) throw new Error(`RLE: BitsAllocated ${bitsAllocated} is not a whole number of bytes`);
  const bytesPerSample = bitsAllocated / 8;
  const planes = samplesPerPixel * bytesPerSample;
  if (frame.length < 64) throw new Error(`RLE: frame of ${frame.length} bytes is shorter than the 64-byte RLE header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nSegments = view.getUint32(0, true);
  if (nSegments !== planes) {
    throw new Error(`RLE: header declares ${nSegments} segments, expected ${planes} (${samplesPerPixel} sample(s) x ${bytesPerSample} byte(s))`);
  }
  const offsets: number[] = [];
  for (let s = 0; s < nSegments; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  const pixels = rows * columns;
  const out = new Uint8Array(pixels * planes);
  for (let s = 0; s < nSegments; s++) {
    const start = offsets[s];
    const end = s + 1 < nSegments ? offsets[s + 1] : frame.length;
    if (start < 64 || end > frame.length || end < start) {
      throw new Error(`RLE: segment ${s + 1} spans bytes ${start}..${end} outside the ${frame.length}-byte frame`);
    }
    // Segment s is byte (most significant first) b of sample k; in little-endian output that byte sits at k * bytesPerSample + (bytesPerSample - 1 - b).
    const k = Math.floor(s / bytesPerSample);
    const b = s % bytesPerSample;
    const lane = k * bytesPerSample + (bytesPerSample - 1 - b);
    const got = unpackBits(frame, start, end, out, lane, planes, pixels);
    if (got < pixels) throw new Error(`RLE: segment ${s + 1} decodes to ${got} bytes, expected ${pixels} (${rows}x${columns})`);
  }
  return out;
}

/**
 * PackBits (G.3.1) from src[start..end) into dst[lane + i * stride] for i < count.
 * Returns how many bytes it wrote (count when the segment was complete).
 */
function unpackBits(src: Uint8Array, start: number, end: number, dst: Uint8Array, lane: number, stride: number, count: number): number {
  let i = 0;
  let p = start;
  while (p < end && i < count) {
    const n = (src[p++] << 24) >> 24; // int8
    if (n >= 0) {
      const m = Math.min(n + 1, end - p, count - i);
      for (let j = 0; j < m; j++) dst[lane + (i + j) * stride] = src[p + j];
      p += n + 1;
      i += m;
    } else if (n !== -128) {
      if (p >= end) break;
      const value = src[p++];
      const m = Math.min(-n + 1, count - i);
      for (let j = 0; j < m; j++) dst[lane + (i + j) * stride] = value;
      i += m;
    }
  }
  return i;
}
