// Image readers and the choice among them, for one file or a whole dataset.
//
// A file's format is picked by content first (DICM at byte 128, the PNG
// signature, a JPEG SOI marker, a NIfTI header or gzip), then by extension,
// and files with no extension (or an all-digit one, as UID-named DICOM files
// have) are tried as DICOM; anything else is a ReadError.
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { assembleSeries, decodeDicom, decodeDicomImage, dicomImageToVolume, DICOM_EXTENSIONS, hasDicomMagic, isDicomName, type DicomImage } from './dicom.ts';
import { decodeNifti } from './nifti.ts';
import { decodeJpeg, decodePng, hasJpegSignature, hasPngSignature } from './raster.ts';
import { errorText, ReadError, type Volume } from './types.ts';
import { readBytes } from './files.ts';
import { ConfigError } from '../../shared/config.ts';

export { ReadError, type Volume } from './types.ts';
export { readNifti, decodeNifti } from './nifti.ts';
export { readDicomFile, readDicomSeries, decodeDicom, TRANSFER_SYNTAXES } from './dicom.ts';
export { readPng, readJpeg, decodePng, decodeJpeg } from './raster.ts';

export interface ImageFormat {
  name: 'nifti' | 'dicom' | 'png' | 'jpeg';
  /** Lower-case file name endings this format claims. */
  extensions: readonly string[];
  /** True when the leading bytes identify the format. */
  sniff(head: Uint8Array): boolean;
  decode(bytes: Uint8Array, source: string): Volume;
}

/** NIfTI-1 ("n+1\0" at 344) or NIfTI-2 ("n+2\0" at 4), either byte order, or any gzip stream (.nii.gz). */
function sniffNifti(b: Uint8Array): boolean {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
  const magic = (at: number, v: number) => b.length >= at + 4 && b[at] === 0x6e && b[at + 1] === 0x2b && b[at + 2] === v && b[at + 3] === 0;
  return magic(344, 0x31) || magic(4, 0x32);
}

export const FORMATS: readonly ImageFormat[] = [
  { name: 'dicom', extensions: DICOM_EXTENSIONS, sniff: hasDicomMagic, decode: decodeDicom },
  { name: 'png', extensions: ['.png'], sniff: hasPngSignature, decode: decodePng },
  { name: 'jpeg', extensions: ['.jpg', '.jpeg'], sniff: hasJpegSignature, decode: decodeJpeg },
  { name: 'nifti', extensions: ['.nii', '.nii.gz'], sniff: sniffNifti, decode: decodeNifti },
];

/** The format called `name`; throws on an unknown name, listing the known ones. */
export function formatByName(name: string): ImageFormat {
  const f = FORMATS.find((x) => x.name === name);
  if (!f) throw new ConfigError('format', `unknown image format "${name}": expected one of ${FORMATS.map((x) => x.name).join(', ')}`);
  return f;
}

function formatByExtension(path: string): ImageFormat | undefined {
  const name = basename(path).toLowerCase();
  return FORMATS.find((f) => f.extensions.some((ext) => name.endsWith(ext) && name.length > ext.length));
}

/** True for a name readDataset picks up inside a folder: a known extension, or a DICOM-like name. */
export function isImageName(path: string): boolean {
  const name = basename(path);
  if (name.startsWith('.')) return false;
  return formatByExtension(name) !== undefined || isDicomName(name);
}

/** The format for a file's path and bytes (content first, then extension, then DICOM for extensionless names); a ReadError when none fits. */
export function detectFormat(path: string, bytes: Uint8Array): ImageFormat {
  const byContent = FORMATS.find((f) => f.sniff(bytes));
  if (byContent) return byContent;
  const byExtension = formatByExtension(path);
  if (byExtension) return byExtension;
  if (isDicomName(path)) return formatByName('dicom');
  const name = basename(path);
  const dot = name.indexOf('.', 1);
  throw new ReadError(path, `unknown image format (extension "${dot > 0 ? name.slice(dot) : ''}", no known signature): expected NIfTI (.nii, .nii.gz), DICOM (.dcm or no extension), PNG or JPEG`);
}

/** Reads one image file of any supported format. */
export async function readImageFile(path: string): Promise<Volume> {
  const bytes = await readBytes(path);
  return detectFormat(path, bytes).decode(bytes, path);
}

// ---------------------------------------------------------------- datasets

export type OnBadFile = 'skip' | 'fail';

/** Parses a --on-bad-file value. */
export function parseOnBadFile(value: string): OnBadFile {
  if (value === 'skip' || value === 'fail') return value;
  throw new ConfigError('--on-bad-file', `expected "skip" or "fail", got "${value}"`);
}

export interface DatasetOptions {
  /** skip: leave bad files out and list them; fail: throw the first ReadError. */
  onBadFile: OnBadFile;
  /** Receives one line per skipped file, per reader note, and the summary. */
  log?: (s: string) => void;
}

export interface Dataset {
  volumes: Volume[];
  skipped: { file: string; reason: string }[];
  /** e.g. "read 5 files: 3 volumes, 2 skipped (bad files)". */
  summary: string;
}

/** Byte-wise path order: the same on every machine and locale. */
const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Image files under `folder`, recursively, skipping hidden entries; counts the other files it passes over. */
async function walk(folder: string, out: string[], ignored: string[]): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true });
  for (const e of entries.sort((a, b) => byPath(a.name, b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = join(folder, e.name);
    if (e.isDirectory()) await walk(p, out, ignored);
    else if (e.isFile() || e.isSymbolicLink()) (isImageName(e.name) ? out : ignored).push(p);
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Reads every image under `paths` (files, or folders searched recursively) in
 * sorted path order. DICOM slices in one folder that share a
 * SeriesInstanceUID become one volume (readDicomSeries's rules); multi-frame
 * DICOM files, DICOM files without a SeriesInstanceUID and all other formats
 * are one volume each. Inside folders, files with other extensions (README,
 * .txt) and hidden files are passed over and counted in the summary; files
 * named explicitly are always read. A bad file (or a series that does not
 * form a volume) throws its ReadError under `fail`, and is listed in
 * `skipped` under `skip` (every file of a bad series is listed).
 */
export async function readDataset(paths: readonly string[], opts: DatasetOptions): Promise<Dataset> {
  const log = opts.log ?? (() => {});
  const skipped: { file: string; reason: string }[] = [];
  const bad = (err: unknown, file: string, files: readonly string[] = [file]) => {
    const e = err instanceof ReadError ? err : new ReadError(file, errorText(err));
    if (opts.onBadFile === 'fail') throw e;
    for (const f of files) {
      skipped.push({ file: f, reason: e.file === f ? e.reason : e.message });
      log(`skipped ${f}: ${e.file === f ? e.reason : e.message}`);
    }
  };

  // 1. The files, sorted and without repeats.
  const found: string[] = [];
  const ignored: string[] = [];
  for (const p of [...paths].sort(byPath)) {
    try {
      const s = await stat(p).catch((err: unknown) => {
        throw new ReadError(p, `no such file or folder (${errorText(err)})`);
      });
      if (s.isDirectory()) await walk(p, found, ignored);
      else found.push(p);
    } catch (err) {
      bad(err, p);
    }
  }
  const unreadable = skipped.length; // paths that do not exist count as files that were tried
  const files = dedupe(found);
  if (ignored.length) log(`ignored ${plural(ignored.length, 'file')} that are not images by name: ${ignored.slice(0, 3).join(', ')}${ignored.length > 3 ? ', ...' : ''}`);

  // 2. Decode each file; DICOM images wait to be grouped into series.
  const entries: { key: string; volume?: Volume; series?: DicomImage[] }[] = [];
  const series = new Map<string, { key: string; images: DicomImage[] }>();
  for (const file of files) {
    try {
      const bytes = await readBytes(file);
      const format = detectFormat(file, bytes);
      if (format.name !== 'dicom') {
        entries.push({ key: file, volume: format.decode(bytes, file) });
        continue;
      }
      const image = decodeDicomImage(bytes, file);
      if (image.frames > 1 || image.seriesInstanceUID === undefined) {
        entries.push({ key: file, volume: dicomImageToVolume(image) });
        continue;
      }
      const id = `${dirname(file)}\n${image.seriesInstanceUID}`;
      const group = series.get(id);
      if (group) group.images.push(image);
      else {
        const g = { key: file, images: [image] };
        series.set(id, g);
        entries.push({ key: file, series: g.images });
      }
    } catch (err) {
      bad(err, file);
    }
  }

  // 3. Build series volumes; order everything by its first file.
  const volumes: Volume[] = [];
  for (const e of entries.sort((a, b) => byPath(a.key, b.key))) {
    if (e.volume) {
      volumes.push(e.volume);
      continue;
    }
    const images = e.series!;
    try {
      volumes.push(images.length === 1 ? dicomImageToVolume(images[0]) : assembleSeries(images, dirname(images[0].source)));
    } catch (err) {
      bad(err, images[0].source, images.map((im) => im.source));
    }
  }
  for (const v of volumes) for (const note of v.notes ?? []) log(`${v.source}: ${note}`);

  const attempted = files.length + unreadable;
  const summary = `read ${plural(attempted, 'file')}: ${plural(volumes.length, 'volume')}, ${skipped.length} skipped (bad files)`
    + (ignored.length ? `, ${ignored.length} ignored (not images)` : '');
  log(summary);
  return { volumes, skipped, summary };
}

/** Sorted paths with repeats (the same file reached twice) removed, keeping the first spelling. */
function dedupe(paths: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of [...paths].sort(byPath)) {
    const r = resolve(p);
    if (!seen.has(r)) {
      seen.add(r);
      out.push(p);
    }
  }
  return out;
}
