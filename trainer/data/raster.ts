// PNG (fast-png) and JPEG (jpeg-js) radiographs as [1, H, W] volumes.
//
// Values are the stored sample codes (0..255 for 8-bit, 0..65535 for 16-bit,
// 0..2^d - 1 for 1/2/4-bit grey): these formats carry no physical units.
// Colour becomes luminance Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as
// PIL's "L" mode, which most chest X-ray datasets were converted with), said
// in a note; images whose colour channels are all equal (grey stored as RGB)
// are taken as grey without a note. Alpha is dropped (noted when not opaque).
// Spacing is 1 mm unless a PNG pHYs chunk gives pixels per metre.
import { decode as decodePngBytes, convertIndexedToRgb } from 'fast-png';
import { decode as decodeJpegBytes } from 'jpeg-js';
import { checkVolume, errorText, plainBytes, ReadError, type Volume } from './types.ts';
import { readBytes } from './files.ts';
import { describeLimit, MAX_IMAGE_PIXELS } from './limits.ts';

/** BT.601 luma weights. */
const LUMA = [0.299, 0.587, 0.114] as const;

/** JPEG decoder limits: far above any radiograph (e.g. 3000 x 3000), low enough to refuse a decompression bomb. */
const JPEG_MAX_MEGAPIXELS = MAX_IMAGE_PIXELS / (1024 * 1024);
const JPEG_MAX_MEMORY_MB = 2048;

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function hasPngSignature(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** JPEG SOI marker followed by the start of another marker. */
export function hasJpegSignature(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Interleaved samples with `channels` per pixel -> one grey value per pixel.
 * Grey (1), grey+alpha (2), RGB (3), RGBA (4).
 */
function toGrey(samples: ArrayLike<number>, pixels: number, channels: number, maxValue: number, notes: string[]): Float32Array {
  const out = new Float32Array(pixels);
  const hasAlpha = channels === 2 || channels === 4;
  if (hasAlpha) {
    for (let i = 0; i < pixels; i++) {
      if (samples[i * channels + channels - 1] !== maxValue) {
        notes.push('alpha channel dropped (the image is not fully opaque)');
        break;
      }
    }
  }
  if (channels <= 2) {
    for (let i = 0; i < pixels; i++) out[i] = samples[i * channels];
    return out;
  }
  let grey = true;
  for (let i = 0; i < pixels && grey; i++) {
    const p = i * channels;
    grey = samples[p] === samples[p + 1] && samples[p] === samples[p + 2];
  }
  if (grey) {
    for (let i = 0; i < pixels; i++) out[i] = samples[i * channels];
    return out;
  }
  notes.push('colour converted to luminance (0.299 R + 0.587 G + 0.114 B)');
  for (let i = 0; i < pixels; i++) {
    const p = i * channels;
    out[i] = LUMA[0] * samples[p] + LUMA[1] * samples[p + 1] + LUMA[2] * samples[p + 2];
  }
  return out;
}

/** Unpacks rows of 1/2/4-bit grey samples (MSB first, each row byte-aligned; PNG spec §7.2). */
function unpackLowDepth(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (packed[y * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** Decodes PNG bytes to a [1, H, W] volume; `source` names the file in errors. */
export function decodePng(bytes: Uint8Array, source: string): Volume {
  bytes = plainBytes(bytes);
  // IHDR is the first chunk (PNG spec §5.6): its size is checked before the decoder allocates it.
  if (bytes.length >= 24 && hasPngSignature(bytes)) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [width, height] = [view.getUint32(16), view.getUint32(20)];
    if (width * height > MAX_IMAGE_PIXELS) {
      throw new ReadError(source, `PNG of ${width}x${height} is over the reader limit of ${describeLimit.pixels(MAX_IMAGE_PIXELS)} (MAX_IMAGE_PIXELS)`);
    }
  }
  let png: ReturnType<typeof decodePngBytes>;
  try {
    // checkCrc: a chunk whose CRC-32 does not match is corruption, not data.
    png = decodePngBytes(bytes, { checkCrc: true });
  } catch (err) {
    throw new ReadError(source, `corrupt PNG: ${errorText(err)}`);
  }
  const { width, height, depth, channels } = png;
  const pixels = width * height;
  const notes: string[] = [];
  let data: Float32Array;
  try {
    if (png.palette) {
      // Indexed colour: expand through the palette (convertIndexedToRgb handles the packed 1/2/4/8-bit indices).
      const rgb = convertIndexedToRgb(png);
      data = toGrey(rgb, pixels, rgb.length / pixels, 255, notes);
    } else {
      const samples = depth < 8 ? unpackLowDepth(png.data, width * channels, height, depth) : png.data;
      if (samples.length < pixels * channels) throw new Error(`decoded ${samples.length} samples, expected ${pixels * channels}`);
      data = toGrey(samples, pixels, channels, 2 ** depth - 1, notes);
    }
  } catch (err) {
    throw new ReadError(source, `corrupt PNG: ${errorText(err)}`);
  }
  let spacing: [number, number, number] = [1, 1, 1];
  const res = png.resolution;
  if (res && res.unit === 1 && res.x > 0 && res.y > 0) spacing = [1, 1000 / res.y, 1000 / res.x];
  return checkVolume({ data, shape: [1, height, width], spacing, source, ...(notes.length ? { notes } : {}) });
}

/** Decodes JPEG bytes (baseline or progressive, grey or colour) to a [1, H, W] volume. */
export function decodeJpeg(bytes: Uint8Array, source: string): Volume {
  bytes = plainBytes(bytes);
  let jpeg: { width: number; height: number; data: Uint8Array };
  try {
    jpeg = decodeJpegBytes(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: JPEG_MAX_MEGAPIXELS,
      maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
    });
  } catch (err) {
    throw new ReadError(source, `corrupt or unsupported JPEG: ${errorText(err)}`);
  }
  const { width, height } = jpeg;
  const pixels = width * height;
  if (!(pixels > 0)) throw new ReadError(source, `corrupt JPEG: decoded ${width}x${height}`);
  // jpeg-js gives 3 samples per pixel without formatAsRGBA, grey JPEGs included (R = G = B, read as grey).
  if (jpeg.data.length !== pixels * 3) throw new ReadError(source, `corrupt JPEG: ${jpeg.data.length} bytes for ${width}x${height}`);
  const notes: string[] = [];
  const data = toGrey(jpeg.data, pixels, 3, 255, notes);
  return checkVolume({ data, shape: [1, height, width], spacing: [1, 1, 1], source, ...(notes.length ? { notes } : {}) });
}

/** Reads a PNG (1/2/4/8/16-bit; grey, grey+alpha, RGB, RGBA or indexed). */
export async function readPng(path: string): Promise<Volume> {
  return decodePng(await readBytes(path), path);
}

/** Reads a JPEG. */
export async function readJpeg(path: string): Promise<Volume> {
  return decodeJpeg(await readBytes(path), path);
}
