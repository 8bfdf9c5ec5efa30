// A minimal DICOM Part 10 writer for reader tests: the cases the real fixture
// files do not cover (8-bit, 12-bit stored, MONOCHROME1, RGB, multi-frame,
// deflated, series without positions, mixed series, corrupt VRs).
import { deflateSync } from 'fflate';

export interface DicomElement {
  /** e.g. 0x00280010 */
  tag: number;
  vr: string;
  /** Strings are padded to even length (UI with NUL, others with space); numbers are written as US; bytes as they are. */
  value: string | number[] | Uint8Array;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

function valueBytes(e: DicomElement): Uint8Array {
  if (e.value instanceof Uint8Array) return e.value.length % 2 ? concat([e.value, new Uint8Array(1)]) : e.value;
  if (typeof e.value === 'string') {
    const pad = e.vr === 'UI' ? '\0' : ' ';
    const s = e.value.length % 2 ? e.value + pad : e.value;
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }
  const out = new Uint8Array(2 * e.value.length);
  const v = new DataView(out.buffer);
  e.value.forEach((x, i) => v.setUint16(2 * i, x, true));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Elements in tag order, explicit (with VR) or implicit VR, little endian. */
export function encodeElements(elements: DicomElement[], explicit = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of [...elements].sort((a, b) => a.tag - b.tag)) {
    const value = valueBytes(e);
    const long = LONG_VRS.has(e.vr);
    const head = new Uint8Array(explicit ? (long ? 12 : 8) : 8);
    const v = new DataView(head.buffer);
    v.setUint16(0, e.tag >>> 16, true);
    v.setUint16(2, e.tag & 0xffff, true);
    if (!explicit) v.setUint32(4, value.length, true);
    else {
      head[4] = e.vr.charCodeAt(0);
      head[5] = e.vr.charCodeAt(1);
      if (long) v.setUint32(8, value.length, true);
      else v.setUint16(6, value.length, true);
    }
    parts.push(head, value);
  }
  return concat(parts);
}

export const TS = {
  implicit: '1.2.840.10008.1.2',
  explicit: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
} as const;

/** A Part 10 file: preamble, "DICM", File Meta Information (explicit VR LE), then the data set in `transferSyntax`. */
export function encodeDicomFile(elements: DicomElement[], transferSyntax: string = TS.explicit): Uint8Array {
  const metaBody = encodeElements([
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00020003, vr: 'UI', value: '1.2.3.4.5' },
    { tag: 0x00020010, vr: 'UI', value: transferSyntax },
  ]);
  const groupLength = encodeElements([{ tag: 0x00020000, vr: 'UL', value: new Uint8Array(new Uint32Array([metaBody.length]).buffer) }]);
  let body = encodeElements(elements, transferSyntax !== TS.implicit);
  if (transferSyntax === TS.deflated) body = deflateSync(body);
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, groupLength, metaBody, body]);
}

export interface ImageSpec {
  rows: number;
  columns: number;
  /** Little-endian pixel bytes (or 16-bit values, written as Int16/Uint16 by pixelRepresentation). */
  pixels: Uint8Array | number[];
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: number;
  samplesPerPixel?: number;
  photometric?: string;
  planarConfiguration?: number;
  frames?: number;
  modality?: string;
  series?: string;
  instance?: number;
  position?: number[];
  orientation?: number[];
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  spacingBetweenSlices?: number;
  slope?: number;
  intercept?: number;
  extra?: DicomElement[];
}

const ds = (xs: number[]) => xs.map((x) => String(x)).join('\\');

/** The data set elements of one image. */
export function imageElements(s: ImageSpec): DicomElement[] {
  const bitsAllocated = s.bitsAllocated ?? 16;
  let pixels: Uint8Array;
  if (s.pixels instanceof Uint8Array) pixels = s.pixels;
  else if (bitsAllocated === 8) pixels = Uint8Array.from(s.pixels);
  else pixels = new Uint8Array(((s.pixelRepresentation ?? 0) ? Int16Array.from(s.pixels) : Uint16Array.from(s.pixels)).buffer);
  const el: DicomElement[] = [
    { tag: 0x00080060, vr: 'CS', value: s.modality ?? 'MR' },
    { tag: 0x00280002, vr: 'US', value: [s.samplesPerPixel ?? 1] },
    { tag: 0x00280004, vr: 'CS', value: s.photometric ?? 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [s.rows] },
    { tag: 0x00280011, vr: 'US', value: [s.columns] },
    { tag: 0x00280100, vr: 'US', value: [bitsAllocated] },
    { tag: 0x00280101, vr: 'US', value: [s.bitsStored ?? bitsAllocated] },
    { tag: 0x00280102, vr: 'US', value: [s.highBit ?? (s.bitsStored ?? bitsAllocated) - 1] },
    { tag: 0x00280103, vr: 'US', value: [s.pixelRepresentation ?? 0] },
    { tag: 0x7fe00010, vr: bitsAllocated > 8 ? 'OW' : 'OB', value: pixels },
  ];
  if (s.planarConfiguration !== undefined) el.push({ tag: 0x00280006, vr: 'US', value: [s.planarConfiguration] });
  if (s.frames !== undefined) el.push({ tag: 0x00280008, vr: 'IS', value: String(s.frames) });
  if (s.series !== undefined) el.push({ tag: 0x0020000e, vr: 'UI', value: s.series });
  if (s.instance !== undefined) el.push({ tag: 0x00200013, vr: 'IS', value: String(s.instance) });
  if (s.position) el.push({ tag: 0x00200032, vr: 'DS', value: ds(s.position) });
  if (s.orientation) el.push({ tag: 0x00200037, vr: 'DS', value: ds(s.orientation) });
  if (s.pixelSpacing) el.push({ tag: 0x00280030, vr: 'DS', value: ds(s.pixelSpacing) });
  if (s.sliceThickness !== undefined) el.push({ tag: 0x00180050, vr: 'DS', value: String(s.sliceThickness) });
  if (s.spacingBetweenSlices !== undefined) el.push({ tag: 0x00180088, vr: 'DS', value: String(s.spacingBetweenSlices) });
  if (s.slope !== undefined) el.push({ tag: 0x00281053, vr: 'DS', value: String(s.slope) });
  if (s.intercept !== undefined) el.push({ tag: 0x00281052, vr: 'DS', value: String(s.intercept) });
  return [...el, ...(s.extra ?? [])];
}

export function encodeImage(s: ImageSpec, transferSyntax: string = TS.explicit): Uint8Array {
  return encodeDicomFile(imageElements(s), transferSyntax);
}
