// DICOM files and series, parsed by dicom-parser; pixel data decoded here.
//
// Transfer syntaxes (PS3.5 §10 and Annex A): implicit VR little endian,
// explicit VR little endian, explicit VR big endian (pixel words byte-swapped),
// deflated explicit VR little endian (inflated with fflate), and RLE Lossless
// (./dicom-rle.ts, PS3.5 Annex G). Anything else, the JPEG family above all,
// is a ReadError naming the UID and the syntax.
// Files without the File Meta Information (no "DICM" at byte 128) are read
// when byte 0 starts a data set; its encoding is guessed from the first
// element (explicit LE, explicit BE, else implicit LE), as dcmtk does.
//
// Pixel values (PS3.5 §8.1.1, PS3.3 C.7.6.3.1): BitsStored bits at HighBit,
// two's complement when PixelRepresentation = 1, then MONOCHROME1 inverted so
// that bright means dense everywhere (noted), then Modality LUT rescale
// value * RescaleSlope + RescaleIntercept (HU for CT). RGB and YBR_FULL go to
// luminance (BT.601 weights, or the Y sample), noted.
//
// Geometry: a file is [frames, Rows, Columns]; a series is its slices sorted
// by ImagePositionPatient projected on the slice normal (row x column cosines
// of ImageOrientationPatient), or by InstanceNumber when positions are
// missing. Spacing is [slice gap, PixelSpacing[0] (between rows),
// PixelSpacing[1] (between columns)]; the gap comes from the positions, else
// SpacingBetweenSlices, else SliceThickness, else 1 mm (noted).
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import dicomParser, { type DataSet, type Element } from 'dicom-parser';
import { inflateSync } from 'fflate';
import { decodeRleFrame } from './dicom-rle.ts';
import { checkVolume, errorText, plainBytes, ReadError, type Volume } from './types.ts';
import { readBytes } from './files.ts';

interface TransferSyntax {
  name: string;
  /** Whether this reader decodes its pixel data. */
  supported: boolean;
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

/** Transfer syntax UID -> name (PS3.6 Annex A) and whether we decode it. */
export const TRANSFER_SYNTAXES: ReadonlyMap<string, TransferSyntax> = new Map([
  [IMPLICIT_LE, { name: 'Implicit VR Little Endian', supported: true }],
  [EXPLICIT_LE, { name: 'Explicit VR Little Endian', supported: true }],
  [DEFLATED_LE, { name: 'Deflated Explicit VR Little Endian', supported: true }],
  [EXPLICIT_BE, { name: 'Explicit VR Big Endian', supported: true }],
  [RLE_LOSSLESS, { name: 'RLE Lossless', supported: true }],
  ['1.2.840.10008.1.2.1.98', { name: 'Encapsulated Uncompressed Explicit VR Little Endian', supported: false }],
  ['1.2.840.10008.1.2.4.50', { name: 'JPEG Baseline (Process 1)', supported: false }],
  ['1.2.840.10008.1.2.4.51', { name: 'JPEG Extended (Process 2 & 4)', supported: false }],
  ['1.2.840.10008.1.2.4.57', { name: 'JPEG Lossless, Non-Hierarchical (Process 14)', supported: false }],
  ['1.2.840.10008.1.2.4.70', { name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])', supported: false }],
  ['1.2.840.10008.1.2.4.80', { name: 'JPEG-LS Lossless', supported: false }],
  ['1.2.840.10008.1.2.4.81', { name: 'JPEG-LS Lossy (Near-Lossless)', supported: false }],
  ['1.2.840.10008.1.2.4.90', { name: 'JPEG 2000 (Lossless Only)', supported: false }],
  ['1.2.840.10008.1.2.4.91', { name: 'JPEG 2000', supported: false }],
  ['1.2.840.10008.1.2.4.92', { name: 'JPEG 2000 Part 2 Multi-component (Lossless Only)', supported: false }],
  ['1.2.840.10008.1.2.4.93', { name: 'JPEG 2000 Part 2 Multi-component', supported: false }],
  ['1.2.840.10008.1.2.4.100', { name: 'MPEG2 Main Profile / Main Level', supported: false }],
  ['1.2.840.10008.1.2.4.101', { name: 'MPEG2 Main Profile / High Level', supported: false }],
  ['1.2.840.10008.1.2.4.102', { name: 'MPEG-4 AVC/H.264 High Profile / Level 4.1', supported: false }],
  ['1.2.840.10008.1.2.4.103', { name: 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', supported: false }],
  ['1.2.840.10008.1.2.4.107', { name: 'HEVC/H.265 Main Profile / Level 5.1', supported: false }],
  ['1.2.840.10008.1.2.4.108', { name: 'HEVC/H.265 Main 10 Profile / Level 5.1', supported: false }],
  ['1.2.840.10008.1.2.4.201', { name: 'High-Throughput JPEG 2000 (Lossless Only)', supported: false }],
  ['1.2.840.10008.1.2.4.202', { name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', supported: false }],
  ['1.2.840.10008.1.2.4.203', { name: 'High-Throughput JPEG 2000', supported: false }],
]);

/** The 34 value representations of PS3.5 §6.2; anything else in an explicit VR file is corrupt. */
const VALID_VRS = new Set('AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));

/** File extensions taken as DICOM; files with no extension (or an all-digit one, as in UID-named files) are tried too. */
export const DICOM_EXTENSIONS = ['.dcm', '.dicom', '.dic', '.ima'];

/** True for a name a DICOM file plausibly has: a DICOM extension, no extension, or an all-digit one. */
export function isDicomName(path: string): boolean {
  const name = basename(path).toLowerCase();
  if (name === 'dicomdir') return false; // a media directory, not an image
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return true;
  const ext = name.slice(dot);
  return DICOM_EXTENSIONS.includes(ext) || /^\.\d+$/.test(ext);
}

/** True when the 128-byte preamble is followed by "DICM" (PS3.10 §7.1). */
export function hasDicomMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** VRs whose explicit-VR element header has 2 reserved bytes and a 4-byte length (PS3.5 §7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * For a file with no File Meta Information: where its data set starts and in
 * which transfer syntax, or undefined when nothing in the first 128 bytes
 * looks like one. A start is taken when the element there and the one after
 * it parse as explicit VR little endian, explicit VR big endian, or implicit
 * VR little endian, with the first group in 0008..0028 (where real data sets
 * start) and tags ascending. Scanning past byte 0 handles stray leading bytes
 * (pydicom's no_meta.dcm starts with one byte of the removed meta header).
 */
export function findRawDataSet(bytes: Uint8Array): { offset: number; transferSyntax: string } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(128, bytes.length - 8);
  for (let offset = 0; offset < limit; offset++) {
    for (const ts of [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE]) {
      if (probeTwoElements(bytes, view, offset, ts)) return { offset, transferSyntax: ts };
    }
  }
  return undefined;
}

/** Header of the element at `at` under `ts`: its tag and where the next element starts (undefined length: -1). */
function elementHeader(bytes: Uint8Array, view: DataView, at: number, ts: string): { group: number; element: number; next: number } | undefined {
  if (at + 8 > bytes.length) return undefined;
  const le = ts !== EXPLICIT_BE;
  const group = view.getUint16(at, le);
  const element = view.getUint16(at + 2, le);
  if (ts === IMPLICIT_LE) {
    const length = view.getUint32(at + 4, true);
    return { group, element, next: length === 0xffffffff ? -1 : at + 8 + length };
  }
  const vr = String.fromCharCode(bytes[at + 4], bytes[at + 5]);
  if (!VALID_VRS.has(vr)) return undefined;
  if (!LONG_VRS.has(vr)) return { group, element, next: at + 8 + view.getUint16(at + 6, le) };
  if (at + 12 > bytes.length) return undefined;
  const length = view.getUint32(at + 8, le);
  return { group, element, next: length === 0xffffffff ? -1 : at + 12 + length };
}

function probeTwoElements(bytes: Uint8Array, view: DataView, at: number, ts: string): boolean {
  const first = elementHeader(bytes, view, at, ts);
  if (!first || first.group % 2 !== 0 || first.group < 0x0008 || first.group > 0x0028) return false;
  if (first.next === -1) return ts !== IMPLICIT_LE; // an explicit VR with an undefined length is evidence enough
  if (first.next > bytes.length) return false;
  if (first.next === bytes.length) return true;
  const second = elementHeader(bytes, view, first.next, ts);
  if (!second) return false;
  return second.group <= 0x7fe0 && (second.group > first.group || (second.group === first.group && second.element > first.element));
}

/** A tag in dicom-parser's key form ('x00280010') as DICOM writes it: (0028,0010). */
const tagName = (tag: string) => `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5, 9).toUpperCase()})`;

/** One decoded DICOM file: its header facts and its frames in real units. */
export interface DicomImage {
  source: string;
  transferSyntax: string;
  modality?: string;
  seriesInstanceUID?: string;
  instanceNumber?: number;
  rows: number;
  columns: number;
  /** Frame k is data[k * rows * columns, (k + 1) * rows * columns); stored order. */
  frames: number;
  data: Float32Array;
  /** [between rows, between columns] in mm, or undefined when the file does not say. */
  pixelSpacing?: [number, number];
  /** Row and column direction cosines (ImageOrientationPatient). */
  orientation?: number[];
  /** ImagePositionPatient per frame (all present) or undefined. */
  positions?: number[][];
  sliceThickness?: number;
  spacingBetweenSlices?: number;
  notes: string[];
}

/** Header access with strict parsing of the string VRs we depend on. */
class Header {
  constructor(readonly ds: DataSet, readonly source: string) {}

  has(tag: string): boolean {
    const e = this.ds.elements[tag];
    return e !== undefined && e.length > 0;
  }

  /** Backslash-separated values of a string element, trimmed; undefined when absent or empty. */
  strings(tag: string): string[] | undefined {
    const s = this.ds.string(tag);
    return s === undefined || s === '' ? undefined : s.split('\\').map((v) => v.trim());
  }

  string(tag: string): string | undefined {
    const s = this.ds.string(tag);
    return s === undefined || s === '' ? undefined : s;
  }

  /** A DS (decimal string) element's values, each checked against PS3.5 §6.2. */
  decimals(tag: string, name: string, count?: number): number[] | undefined {
    return this.numbers(tag, name, 'DS', /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, count);
  }

  /** An IS (integer string) element's values. */
  integers(tag: string, name: string, count?: number): number[] | undefined {
    return this.numbers(tag, name, 'IS', /^[+-]?\d+$/, count);
  }

  private numbers(tag: string, name: string, vr: string, pattern: RegExp, count?: number): number[] | undefined {
    const values = this.strings(tag);
    if (values === undefined) return undefined;
    const bad = values.find((v) => !pattern.test(v));
    if (bad !== undefined) throw new ReadError(this.source, `invalid ${name} ${tagName(tag)}: "${values.join('\\')}" is not a valid ${vr} (${vr === 'IS' ? 'integer' : 'decimal'} string)`);
    if (count !== undefined && values.length !== count) throw new ReadError(this.source, `invalid ${name} ${tagName(tag)}: ${values.length} values "${values.join('\\')}", expected ${count}`);
    return values.map(Number);
  }

  /** A US element, required unless a default is given. */
  us(tag: string, name: string, fallback?: number): number {
    const v = this.has(tag) ? this.ds.uint16(tag) : undefined;
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw new ReadError(this.source, `missing ${name} ${tagName(tag)}`);
  }
}

/** Items of a sequence element. */
const items = (ds: DataSet | undefined, tag: string): DataSet[] =>
  (ds?.elements[tag]?.items ?? []).flatMap((it) => (it.dataSet ? [it.dataSet] : []));

const TAG = {
  transferSyntax: 'x00020010',
  modality: 'x00080060',
  sliceThickness: 'x00180050',
  spacingBetweenSlices: 'x00180088',
  imagerPixelSpacing: 'x00181164',
  seriesInstanceUID: 'x0020000e',
  instanceNumber: 'x00200013',
  imagePosition: 'x00200032',
  imageOrientation: 'x00200037',
  samplesPerPixel: 'x00280002',
  photometric: 'x00280004',
  planarConfiguration: 'x00280006',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  highBit: 'x00280102',
  pixelRepresentation: 'x00280103',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  pixelData: 'x7fe00010',
  // Enhanced multi-frame functional groups (PS3.3 C.7.6.16) and the macros we use from them.
  sharedGroups: 'x52009229',
  perFrameGroups: 'x52009230',
  pixelMeasures: 'x00289110',
  planePosition: 'x00209113',
  planeOrientation: 'x00209116',
  pixelValueTransformation: 'x00289145',
} as const;

/** DICOM Modality (0008,0060) -> the project's modality names; others pass through lowercased. */
function modalityName(code: string | undefined): string | undefined {
  if (!code) return undefined;
  const c = code.toUpperCase();
  if (c === 'CT') return 'ct';
  if (c === 'MR') return 'mri';
  if (['CR', 'DX', 'RG', 'MG', 'IO', 'PX', 'RF', 'XA'].includes(c)) return 'xray';
  return c.toLowerCase();
}

/** Parses a DICOM file's bytes with dicom-parser, with the transfer syntax it used. */
function parseDataSet(bytes: Uint8Array, source: string): { ds: DataSet; transferSyntax: string; notes: string[] } {
  const notes: string[] = [];
  let assumed: string | undefined;
  if (!hasDicomMagic(bytes)) {
    const raw = findRawDataSet(bytes);
    if (!raw) throw new ReadError(source, 'not a DICOM file: no "DICM" at byte 128 and no data set in the first 128 bytes');
    assumed = raw.transferSyntax;
    notes.push(`no File Meta Information header; read as ${TRANSFER_SYNTAXES.get(assumed)?.name}${raw.offset ? ` from byte ${raw.offset} (skipped ${raw.offset} stray leading byte(s))` : ''}`);
    bytes = bytes.subarray(raw.offset);
  }
  let ds: DataSet;
  let ts = assumed;
  try {
    if (!assumed) {
      const meta = dicomParser.readPart10Header(bytes);
      ts = meta.string(TAG.transferSyntax)?.replace(/[\0 ]+$/, '');
      if (!ts) throw new ReadError(source, 'missing Transfer Syntax UID (0002,0010) in the File Meta Information');
      if (ts === DEFLATED_LE) return { ds: parseDeflated(bytes, (meta as DataSet & { position: number }).position, source), transferSyntax: ts, notes };
    }
    ds = dicomParser.parseDicom(bytes, assumed ? { TransferSyntaxUID: assumed } : undefined);
  } catch (err) {
    if (err instanceof ReadError) throw err;
    throw new ReadError(source, parseFailure(err, bytes.length));
  }
  return { ds, transferSyntax: ts!, notes };
}

/**
 * Deflated Explicit VR Little Endian (PS3.5 §A.5): the data set after the
 * meta header is one raw deflate stream. dicom-parser 1.8's own inflater hook
 * parses the result from byte 0 (the preamble), so inflate here and parse the
 * data set alone.
 */
function parseDeflated(bytes: Uint8Array, position: number, source: string): DataSet {
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(bytes.subarray(position));
  } catch (err) {
    throw new ReadError(source, `corrupt deflated data set: ${errorText(err)}`);
  }
  const DataSetClass = (dicomParser as unknown as { DataSet: new (parser: unknown, byteArray: Uint8Array, elements: object) => DataSet }).DataSet;
  const parser = dicomParser.littleEndianByteArrayParser;
  const ds = new DataSetClass(parser, inflated, {});
  ds.warnings = [];
  try {
    dicomParser.parseDicomDataSetExplicit(ds, new dicomParser.ByteStream(parser, inflated, 0), inflated.length);
  } catch (err) {
    throw new ReadError(source, parseFailure({ exception: err, dataSet: ds }, inflated.length));
  }
  return ds;
}

/**
 * Why dicom-parser gave up, in words: it throws strings, Errors, or
 * { exception, dataSet } with what it had parsed, whose last element tells
 * where a truncated file ends.
 */
function parseFailure(err: unknown, fileBytes: number): string {
  const text = errorText(err);
  const partial = err && typeof err === 'object' && 'dataSet' in err ? (err as { dataSet?: DataSet }).dataSet : undefined;
  const elements = Object.entries(partial?.elements ?? {});
  const last = elements.length ? elements.reduce((a, b) => (b[1].dataOffset > a[1].dataOffset ? b : a)) : undefined;
  if (last && last[1].dataOffset + last[1].length > fileBytes) {
    const [tag, e] = last;
    const name = tag === TAG.pixelData ? 'Pixel Data (7FE0,0010)' : `element ${tagName(tag)}`;
    return `truncated file: ${name} declares ${e.length} bytes but only ${fileBytes - e.dataOffset} remain (file is ${fileBytes} bytes)`;
  }
  const truncated = /overrun|past end|end of buffer/i.test(text);
  return `${truncated ? 'truncated or corrupt DICOM data set' : 'cannot parse DICOM data set'} (${fileBytes} bytes): ${text}`;
}

/** Throws a ReadError for the first element, at any depth, whose explicit VR is not a DICOM VR. */
function checkVrs(ds: DataSet, source: string): void {
  for (const [tag, e] of Object.entries(ds.elements)) {
    // Item and delimitation tags (FFFE,xxxx) carry no VR.
    if (e.vr !== undefined && !tag.startsWith('xfffe') && !VALID_VRS.has(e.vr)) {
      throw new ReadError(source, `invalid value representation "${printable(e.vr)}" for element ${tagName(tag)}`);
    }
    for (const it of e.items ?? []) if (it.dataSet) checkVrs(it.dataSet, source);
  }
}

const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** Decodes a DICOM file's bytes; `source` names it in errors. */
export function decodeDicomImage(bytes: Uint8Array, source: string): DicomImage {
  const { ds, transferSyntax, notes } = parseDataSet(plainBytes(bytes), source);
  const syntax = TRANSFER_SYNTAXES.get(transferSyntax);
  if (!syntax?.supported) {
    throw new ReadError(source, `unsupported transfer syntax ${transferSyntax} (${syntax?.name ?? 'unknown'}); `
      + 'this reader decodes uncompressed (implicit/explicit VR little endian, explicit VR big endian, deflated) and RLE Lossless pixel data: '
      + 'decompress the file first, e.g. with dcmtk `dcmdjpeg in.dcm out.dcm` or gdcm `gdcmconv --raw in.dcm out.dcm`');
  }
  if (transferSyntax !== IMPLICIT_LE) checkVrs(ds, source);
  try {
    return decodeParsed(new Header(ds, source), transferSyntax, notes);
  } catch (err) {
    if (err instanceof ReadError) throw err;
    throw new ReadError(source, `corrupt DICOM data: ${errorText(err)}`);
  }
}

function decodeParsed(h: Header, transferSyntax: string, notes: string[]): DicomImage {
  const { ds, source } = h;
  const pixel = ds.elements[TAG.pixelData];
  if (!pixel) throw new ReadError(source, 'no Pixel Data (7FE0,0010): not an image');

  const rows = h.us(TAG.rows, 'Rows');
  const columns = h.us(TAG.columns, 'Columns');
  if (rows === 0 || columns === 0) throw new ReadError(source, `empty image: Rows ${rows}, Columns ${columns}`);
  const samplesPerPixel = h.us(TAG.samplesPerPixel, 'SamplesPerPixel', 1);
  const bitsAllocated = h.us(TAG.bitsAllocated, 'BitsAllocated');
  const bitsStored = h.us(TAG.bitsStored, 'BitsStored', bitsAllocated);
  const highBit = h.us(TAG.highBit, 'HighBit', bitsStored - 1);
  const signed = h.us(TAG.pixelRepresentation, 'PixelRepresentation', 0) === 1;
  const photometric = (h.string(TAG.photometric) ?? (samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB')).toUpperCase();
  const planar = h.us(TAG.planarConfiguration, 'PlanarConfiguration', 0);
  const frames = h.integers(TAG.numberOfFrames, 'NumberOfFrames', 1)?.[0] ?? 1;

  if (![1, 8, 16, 32].includes(bitsAllocated)) throw new ReadError(source, `unsupported BitsAllocated ${bitsAllocated}; expected 1, 8, 16 or 32`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit < bitsStored - 1 || highBit >= bitsAllocated) {
    throw new ReadError(source, `inconsistent BitsAllocated ${bitsAllocated}, BitsStored ${bitsStored}, HighBit ${highBit}`);
  }
  if (frames < 1) throw new ReadError(source, `invalid NumberOfFrames ${frames}`);
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw new ReadError(source, `unsupported SamplesPerPixel ${samplesPerPixel}; expected 1 or 3`);
  const colour = samplesPerPixel === 3;
  if (colour ? !['RGB', 'YBR_FULL'].includes(photometric) : !['MONOCHROME1', 'MONOCHROME2'].includes(photometric)) {
    throw new ReadError(source, `unsupported PhotometricInterpretation ${photometric} with ${samplesPerPixel} sample(s) per pixel; expected MONOCHROME1/2, RGB or YBR_FULL`);
  }

  // Native (little-endian, as uncompressed Explicit VR LE stores it) pixel bytes, one frame after another.
  const native = nativePixelBytes(h, pixel, transferSyntax, { rows, columns, samplesPerPixel, bitsAllocated, frames });

  // Per-frame attributes come from the functional groups when present (enhanced multi-frame), else the top level.
  const shared = items(ds, TAG.sharedGroups)[0];
  const perFrame = items(ds, TAG.perFrameGroups);
  const macro = (frame: number, macroTag: string): DataSet[] => [items(perFrame[frame], macroTag)[0], items(shared, macroTag)[0]].filter((x): x is DataSet => x !== undefined);
  const find = <T>(frame: number, macroTag: string, read: (hh: Header) => T | undefined): T | undefined => {
    for (const m of macro(frame, macroTag)) {
      const v = read(new Header(m, source));
      if (v !== undefined) return v;
    }
    return read(h);
  };

  const pixelsPerFrame = rows * columns;
  const data = new Float32Array(frames * pixelsPerFrame);
  const stored = { bitsAllocated, bitsStored, highBit, signed };
  const invert = photometric === 'MONOCHROME1';
  if (invert) notes.push('MONOCHROME1 inverted to MONOCHROME2 (higher value = brighter)');
  if (colour) notes.push(photometric === 'RGB' ? 'RGB converted to luminance (0.299 R + 0.587 G + 0.114 B)' : 'YBR_FULL: took the Y (luminance) sample');
  let rescaleNoted = false;
  for (let f = 0; f < frames; f++) {
    const out = data.subarray(f * pixelsPerFrame, (f + 1) * pixelsPerFrame);
    if (colour) {
      // RLE output is always interleaved; native data follows PlanarConfiguration.
      const isPlanar = transferSyntax !== RLE_LOSSLESS && planar === 1;
      const s = storedSamples(native, f * pixelsPerFrame * 3, pixelsPerFrame * 3, stored);
      for (let i = 0; i < pixelsPerFrame; i++) {
        const at = (k: number) => (isPlanar ? s[k * pixelsPerFrame + i] : s[3 * i + k]);
        out[i] = photometric === 'RGB' ? 0.299 * at(0) + 0.587 * at(1) + 0.114 * at(2) : at(0);
      }
      continue;
    }
    const s = storedSamples(native, f * pixelsPerFrame, pixelsPerFrame, stored);
    const slope = find(f, TAG.pixelValueTransformation, (hh) => hh.decimals(TAG.rescaleSlope, 'RescaleSlope', 1)?.[0]) ?? 1;
    const intercept = find(f, TAG.pixelValueTransformation, (hh) => hh.decimals(TAG.rescaleIntercept, 'RescaleIntercept', 1)?.[0]) ?? 0;
    if (slope === 0 && !rescaleNoted) {
      notes.push('RescaleSlope 0 would erase the image; ignored it (used 1)');
      rescaleNoted = true;
    }
    const m = slope === 0 ? 1 : slope;
    // PS3.5 §8.1.1: stored value range for MONOCHROME1 inversion.
    const [lo, hi] = signed ? [-(2 ** (bitsStored - 1)), 2 ** (bitsStored - 1) - 1] : [0, 2 ** bitsStored - 1];
    for (let i = 0; i < pixelsPerFrame; i++) {
      const v = invert ? lo + hi - s[i] : s[i];
      out[i] = v * m + intercept;
    }
  }

  const pixelSpacing = find(0, TAG.pixelMeasures, (hh) => hh.decimals(TAG.pixelSpacing, 'PixelSpacing', 2)) as [number, number] | undefined;
  const imagerSpacing = pixelSpacing ? undefined : (h.decimals(TAG.imagerPixelSpacing, 'ImagerPixelSpacing', 2) as [number, number] | undefined);
  if (imagerSpacing) notes.push('no PixelSpacing; used ImagerPixelSpacing (0018,1164), the spacing at the detector');
  const orientation = find(0, TAG.planeOrientation, (hh) => hh.decimals(TAG.imageOrientation, 'ImageOrientationPatient', 6));
  const positions: number[][] = [];
  for (let f = 0; f < frames; f++) {
    // A multi-frame file's top-level position (if any) is only the first frame's.
    const p = frames > 1
      ? items(perFrame[f], TAG.planePosition).map((m) => new Header(m, source).decimals(TAG.imagePosition, 'ImagePositionPatient', 3)).find((x) => x !== undefined)
      : find(f, TAG.planePosition, (hh) => hh.decimals(TAG.imagePosition, 'ImagePositionPatient', 3));
    if (p) positions.push(p);
  }

  return {
    source,
    transferSyntax,
    modality: modalityName(h.string(TAG.modality)),
    seriesInstanceUID: h.string(TAG.seriesInstanceUID),
    instanceNumber: h.integers(TAG.instanceNumber, 'InstanceNumber', 1)?.[0],
    rows,
    columns,
    frames,
    data,
    pixelSpacing: pixelSpacing ?? imagerSpacing,
    orientation,
    positions: positions.length === frames ? positions : undefined,
    sliceThickness: find(0, TAG.pixelMeasures, (hh) => hh.decimals(TAG.sliceThickness, 'SliceThickness', 1)?.[0]),
    spacingBetweenSlices: find(0, TAG.pixelMeasures, (hh) => hh.decimals(TAG.spacingBetweenSlices, 'SpacingBetweenSlices', 1)?.[0]),
    notes,
  };
}

interface Layout { rows: number; columns: number; samplesPerPixel: number; bitsAllocated: number; frames: number }

/**
 * The pixel data as uncompressed little-endian bytes: native data checked
 * against the header's size (and byte-swapped for big endian), RLE decoded
 * frame by frame.
 */
function nativePixelBytes(h: Header, pixel: Element, transferSyntax: string, l: Layout): Uint8Array {
  const { ds, source } = h;
  const samples = l.rows * l.columns * l.samplesPerPixel;
  const frameBytes = (samples * l.bitsAllocated) / 8;
  const describe = `${l.frames} frame(s) of ${l.rows}x${l.columns}${l.samplesPerPixel > 1 ? `x${l.samplesPerPixel}` : ''} at ${l.bitsAllocated} bits`;

  if (transferSyntax === RLE_LOSSLESS) {
    if (!pixel.encapsulatedPixelData) throw new ReadError(source, 'RLE Lossless transfer syntax but the Pixel Data is not encapsulated');
    if (l.bitsAllocated === 1) throw new ReadError(source, 'RLE Lossless with BitsAllocated 1 is not supported');
    const out = new Uint8Array(l.frames * frameBytes);
    for (let f = 0; f < l.frames; f++) {
      let compressed: Uint8Array;
      try {
        compressed = encapsulatedFrame(ds, pixel, f, l.frames);
      } catch (err) {
        throw new ReadError(source, `RLE frame ${f}: ${errorText(err)}`);
      }
      try {
        out.set(decodeRleFrame(compressed, l.rows, l.columns, l.samplesPerPixel, l.bitsAllocated), f * frameBytes);
      } catch (err) {
        throw new ReadError(source, `frame ${f}: ${errorText(err)}`);
      }
    }
    return out;
  }

  if (pixel.encapsulatedPixelData) throw new ReadError(source, `encapsulated (compressed) Pixel Data under the uncompressed transfer syntax ${transferSyntax}`);
  // 1-bit frames are packed back to back with no padding between them (PS3.5 §8.1.1).
  const need = Math.ceil(l.frames * (l.bitsAllocated === 1 ? samples / 8 : frameBytes));
  const have = pixel.length;
  if (pixel.dataOffset + have > ds.byteArray.length) throw new ReadError(source, `truncated: Pixel Data declares ${have} bytes but the file ends after ${ds.byteArray.length - pixel.dataOffset}`);
  // Values are padded to even length; anything beyond that means the header describes other data than is there.
  if (have < need || have > need + (need % 2)) {
    throw new ReadError(source, `Pixel Data has ${have} bytes but the header describes ${need} (${describe})`);
  }
  const bytes = ds.byteArray.slice(pixel.dataOffset, pixel.dataOffset + need);
  if (l.bitsAllocated === 1) return unpackBits1(bytes, l.frames * samples);
  // Explicit VR big endian stores words big endian (OW); OB (8-bit) is a byte stream and stays.
  if (transferSyntax === EXPLICIT_BE) {
    if (l.bitsAllocated > 8) swapEach(bytes, l.bitsAllocated / 8);
    else if (pixel.vr === 'OW') swapEach(bytes, 2);
  }
  return bytes;
}

/** One frame's compressed bytes from encapsulated Pixel Data (PS3.5 §A.4). */
function encapsulatedFrame(ds: DataSet, pixel: Element, frame: number, frames: number): Uint8Array {
  const fragments = pixel.fragments ?? [];
  if (fragments.length === 0) throw new Error('encapsulated Pixel Data has no fragments');
  if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length) as Uint8Array;
  const table = pixel.basicOffsetTable ?? [];
  if (table.length === frames) return dicomParser.readEncapsulatedImageFrame(ds, pixel, frame) as Uint8Array;
  if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, frame, 1) as Uint8Array;
  throw new Error(`${frames} frames in ${fragments.length} fragments with an empty Basic Offset Table: cannot tell the frames apart`);
}

/** Unpacks 1-bit pixels, first pixel in the least significant bit of each byte (PS3.5 §8.1.1), to one byte each. */
function unpackBits1(packed: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (packed[i >> 3] >> (i & 7)) & 1;
  return out;
}

function swapEach(b: Uint8Array, size: number): void {
  for (let i = 0; i + size <= b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

/**
 * `count` stored values starting at sample `start` of little-endian native
 * bytes: BitsStored bits ending at HighBit, sign-extended when signed.
 * BitsAllocated 1 arrives already unpacked to one byte per sample.
 */
function storedSamples(native: Uint8Array, start: number, count: number, p: { bitsAllocated: number; bitsStored: number; highBit: number; signed: boolean }): ArrayLike<number> {
  const bytesPer = p.bitsAllocated === 1 ? 1 : p.bitsAllocated / 8;
  // An own copy (native is a plain Uint8Array, so slice copies): typed views need alignment.
  const chunk = native.slice(start * bytesPer, (start + count) * bytesPer);
  if (p.bitsAllocated === 1) return chunk;
  const buf = chunk.buffer;
  if (p.bitsStored === p.bitsAllocated) {
    if (bytesPer === 1) return p.signed ? new Int8Array(buf, 0, count) : chunk;
    if (bytesPer === 2) return p.signed ? new Int16Array(buf, 0, count) : new Uint16Array(buf, 0, count);
    return p.signed ? new Int32Array(buf, 0, count) : new Uint32Array(buf, 0, count);
  }
  const raw = bytesPer === 1 ? chunk : bytesPer === 2 ? new Uint16Array(buf, 0, count) : new Uint32Array(buf, 0, count);
  const shift = p.highBit + 1 - p.bitsStored;
  const range = 2 ** p.bitsStored;
  const half = range / 2;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = Math.floor(raw[i] / 2 ** shift) % range;
    out[i] = p.signed && v >= half ? v - range : v;
  }
  return out;
}

// ---------------------------------------------------------------- geometry

/** Unit slice normal: row cosines x column cosines (PS3.3 C.7.6.2.1.1). */
function sliceNormal(orientation: number[]): [number, number, number] {
  const [a, b, c, d, e, f] = orientation;
  const n: [number, number, number] = [b * f - c * e, c * d - a * f, a * e - b * d];
  const len = Math.hypot(...n);
  if (!(len > 1e-6)) throw new Error(`ImageOrientationPatient [${orientation.join(', ')}] has parallel or zero row and column directions`);
  return [n[0] / len, n[1] / len, n[2] / len];
}

const dot = (a: readonly number[], b: readonly number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/**
 * The one gap between sorted slice positions, or an Error: two slices at the
 * same place, or gaps that vary by more than 1% + 0.01 mm (missing slices,
 * or a series that is not one volume).
 */
function uniformGap(keys: number[], label: (i: number) => string): number {
  const gaps = keys.slice(1).map((k, i) => k - keys[i]);
  gaps.forEach((g, i) => {
    if (g < 1e-4) throw new Error(`${label(i)} and ${label(i + 1)} are at the same position (${keys[i].toFixed(3)} mm along the slice normal)`);
  });
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const lo = sorted[0];
  const hi = sorted[sorted.length - 1];
  if (hi - lo > 0.01 * median + 0.01) throw new Error(`slice gaps vary from ${lo.toFixed(3)} to ${hi.toFixed(3)} mm (missing slices, or not one volume?)`);
  return gaps.reduce((a, b) => a + b, 0) / gaps.length;
}

/** Slice spacing from the header alone, with a note when it had to be guessed. */
function headerGap(image: DicomImage, notes: string[], why: string): number {
  if (image.spacingBetweenSlices !== undefined && image.spacingBetweenSlices > 0) return Math.abs(image.spacingBetweenSlices);
  if (image.sliceThickness !== undefined && image.sliceThickness > 0) return image.sliceThickness;
  notes.push(`${why}, and no SpacingBetweenSlices or SliceThickness: slice spacing set to 1 mm`);
  return 1;
}

function inPlaneSpacing(image: DicomImage, notes: string[]): [number, number] {
  if (image.pixelSpacing && image.pixelSpacing.every((s) => s > 0)) return image.pixelSpacing;
  notes.push('no PixelSpacing: in-plane spacing set to 1 mm');
  return [1, 1];
}

/** One DICOM file as a Volume: its frames along D (sorted by position when every frame has one). */
export function dicomImageToVolume(image: DicomImage): Volume {
  const notes = [...image.notes];
  const [sy, sx] = inPlaneSpacing(image, notes);
  let data = image.data;
  let sz: number;
  if (image.frames > 1 && image.positions && image.orientation) {
    const normal = sliceNormal(image.orientation);
    const keys = image.positions.map((p) => dot(p, normal));
    const order = keys.map((_, i) => i).sort((a, b) => keys[a] - keys[b]);
    if (order.some((k, i) => k !== i)) {
      notes.push('frames reordered by position along the slice normal');
      data = gather(image.data, order, image.rows * image.columns);
    }
    try {
      sz = uniformGap(order.map((i) => keys[i]), (i) => `frame ${order[i]}`);
    } catch (err) {
      throw new ReadError(image.source, errorText(err));
    }
  } else {
    sz = headerGap(image, notes, image.frames > 1 ? 'frames have no positions' : 'a single slice');
  }
  return checkVolume({
    data,
    shape: [image.frames, image.rows, image.columns],
    spacing: [sz, sy, sx],
    ...(image.modality ? { modality: image.modality } : {}),
    source: image.source,
    ...(notes.length ? { notes } : {}),
  });
}

/** Frames of `data` (each `size` values) in `order`. */
function gather(data: Float32Array, order: number[], size: number): Float32Array {
  const out = new Float32Array(data.length);
  order.forEach((src, dst) => out.set(data.subarray(src * size, (src + 1) * size), dst * size));
  return out;
}

/**
 * Single-frame slices of one series as one volume. Throws a ReadError naming
 * `source` for a mixed series (different SeriesInstanceUID, size or
 * orientation), a multi-frame member, slices that cannot be ordered, or
 * uneven gaps.
 */
export function assembleSeries(images: readonly DicomImage[], source: string): Volume {
  if (images.length === 0) throw new ReadError(source, 'no DICOM files in the series');
  const fail = (reason: string): never => {
    throw new ReadError(source, reason);
  };
  const first = images[0];
  const name = (im: DicomImage) => basename(im.source);
  for (const im of images) {
    if (im.frames !== 1) fail(`${name(im)} has ${im.frames} frames; a series is built from single-frame files (read multi-frame files on their own)`);
    if (im.seriesInstanceUID !== first.seriesInstanceUID) fail(`mixed series: ${name(first)} is in SeriesInstanceUID ${first.seriesInstanceUID ?? '(none)'}, ${name(im)} in ${im.seriesInstanceUID ?? '(none)'}`);
    if (im.rows !== first.rows || im.columns !== first.columns) fail(`mixed series: ${name(first)} is ${first.rows}x${first.columns}, ${name(im)} is ${im.rows}x${im.columns}`);
    const o1 = first.orientation;
    const o2 = im.orientation;
    if ((o1 === undefined) !== (o2 === undefined) || (o1 && o2 && o1.some((v, k) => Math.abs(v - o2[k]) > 1e-4))) {
      fail(`mixed series: ImageOrientationPatient differs between ${name(first)} [${o1?.join(', ') ?? 'none'}] and ${name(im)} [${o2?.join(', ') ?? 'none'}]`);
    }
    const p1 = first.pixelSpacing;
    const p2 = im.pixelSpacing;
    if (p1 && p2 && p1.some((v, k) => Math.abs(v - p2[k]) > 1e-4 * Math.max(1, v))) fail(`mixed series: PixelSpacing differs between ${name(first)} [${p1.join(', ')}] and ${name(im)} [${p2.join(', ')}]`);
  }

  const notes: string[] = [];
  for (const im of images) for (const n of im.notes) if (!notes.includes(n)) notes.push(n);
  const [sy, sx] = inPlaneSpacing(first, notes);
  let order: number[];
  let sz: number;
  if (images.length === 1) {
    order = [0];
    sz = headerGap(first, notes, 'a single slice');
  } else if (first.orientation && images.every((im) => im.positions)) {
    const normal = sliceNormal(first.orientation);
    const keys = images.map((im) => dot(im.positions![0], normal));
    order = keys.map((_, i) => i).sort((a, b) => keys[a] - keys[b]);
    try {
      sz = uniformGap(order.map((i) => keys[i]), (i) => name(images[order[i]]));
    } catch (err) {
      fail(errorText(err));
    }
  } else if (images.every((im) => im.instanceNumber !== undefined)) {
    order = images.map((_, i) => i).sort((a, b) => images[a].instanceNumber! - images[b].instanceNumber!);
    for (let i = 1; i < order.length; i++) {
      const [a, b] = [images[order[i - 1]], images[order[i]]];
      if (a.instanceNumber === b.instanceNumber) fail(`${name(a)} and ${name(b)} have the same InstanceNumber ${a.instanceNumber} and no ImagePositionPatient/ImageOrientationPatient to order them`);
    }
    notes.push('slices ordered by InstanceNumber (no ImagePositionPatient/ImageOrientationPatient)');
    sz = headerGap(first, notes, 'no slice positions');
  } else {
    fail('cannot order the slices: neither ImagePositionPatient with ImageOrientationPatient nor InstanceNumber on every file');
  }

  const size = first.rows * first.columns;
  const data = new Float32Array(images.length * size);
  order!.forEach((src, dst) => data.set(images[src].data, dst * size));
  const modality = first.modality;
  return checkVolume({
    data,
    shape: [images.length, first.rows, first.columns],
    spacing: [sz!, sy, sx],
    ...(modality ? { modality } : {}),
    source,
    ...(notes.length ? { notes } : {}),
  });
}

// ---------------------------------------------------------------- files

/** Reads and decodes one DICOM file (header facts and frames), for grouping into series. */
export async function loadDicomImage(path: string): Promise<DicomImage> {
  return decodeDicomImage(await readBytes(path), path);
}

/** Decodes one DICOM file's bytes to a Volume: [1, rows, cols], or its frames along D. */
export function decodeDicom(bytes: Uint8Array, source: string): Volume {
  return dicomImageToVolume(decodeDicomImage(bytes, source));
}

/** Reads one DICOM file: one slice as [1, rows, cols], or a multi-frame file's frames along D. */
export async function readDicomFile(path: string): Promise<Volume> {
  return dicomImageToVolume(await loadDicomImage(path));
}

/** Regular, non-hidden files in `folder` (not recursive) with a DICOM-like name, sorted. */
export async function listDicomFiles(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    throw new ReadError(folder, `cannot list folder: ${errorText(err)}`);
  }
  const files: string[] = [];
  for (const n of names.sort()) {
    if (n.startsWith('.') || !isDicomName(n)) continue;
    const p = join(folder, n);
    if ((await stat(p)).isFile()) files.push(p);
  }
  return files;
}

/**
 * Reads one series into a volume: a folder's DICOM files (not recursive), or
 * the given files. The volume's source is the folder (for a list, the first
 * file's folder).
 */
export async function readDicomSeries(folderOrPaths: string | readonly string[]): Promise<Volume> {
  const folder = typeof folderOrPaths === 'string' ? folderOrPaths : undefined;
  const paths = folder !== undefined ? await listDicomFiles(folder) : [...folderOrPaths].sort();
  const source = folder ?? (paths.length ? dirname(paths[0]) : '(no files)');
  if (paths.length === 0) throw new ReadError(source, 'no DICOM files in the series');
  const images: DicomImage[] = [];
  for (const p of paths) images.push(await loadDicomImage(p));
  return assembleSeries(images, source);
}
