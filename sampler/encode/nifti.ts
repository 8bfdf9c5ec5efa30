// NIfTI-1 single-file (.nii, optionally gzipped) output: float32 voxels in
// real units (CT stays in HU), identity orientation scaled by the spacing.
//
// Axes: a [D, H, W, 1] volume with W fastest is NIfTI (x, y, z) = (W, H, D),
// and NIfTI x also varies fastest, so the data is written in its own order. A
// 2D image [H, W, 1] is one slice (nz = 1, dz = 1). Several images stack along
// dim[4]; a single image keeps dim[0] = 3.
import { gzipSync } from 'fflate';
import { checkImages, type GeneratedImage } from './types.ts';

export interface NiftiOptions {
  /** Gzip the whole file (.nii.gz). */
  gzip?: boolean;
}

const HEADER_BYTES = 348;
// Header plus the 4-byte extension flag (all zero: no extensions).
const VOX_OFFSET = HEADER_BYTES + 4;
const DT_FLOAT32 = 16;
const NIFTI_UNITS_MM = 2;
const NIFTI_UNITS_SEC = 8;
const NIFTI_XFORM_SCANNER_ANAT = 1;
// dim[] entries are int16.
const MAX_DIM = 32767;

/** Writes `text` as NUL-padded ASCII into the `length`-byte field at `offset` (non-ASCII becomes '?'). */
function writeString(bytes: Uint8Array, offset: number, length: number, text: string): void {
  const s = text.slice(0, length - 1);
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    bytes[offset + i] = code >= 0x20 && code < 0x7f ? code : 0x3f;
  }
}

export function encodeNifti(images: readonly GeneratedImage[], opts: NiftiOptions = {}): Uint8Array {
  const shape = checkImages(images);
  const channels = shape[shape.length - 1];
  if (channels !== 1) throw new Error(`NIfTI output supports single-channel images only; got ${channels} channels (shape [${shape.join(', ')}])`);
  const spatial = shape.slice(0, -1);
  const spacing = images[0].spacing;
  images.forEach(({ spacing: s }, i) => {
    if (s.length !== spatial.length) throw new Error(`image ${i}: spacing [${s.join(', ')}] needs ${spatial.length} entries, one per spatial dim of shape [${shape.join(', ')}]`);
    if (!s.every((v) => Number.isFinite(v) && v > 0)) throw new Error(`image ${i}: spacing [${s.join(', ')}] must be positive and finite`);
    if (s.some((v, k) => v !== spacing[k])) throw new Error(`image ${i}: spacing [${s.join(', ')}] differs from image 0's [${spacing.join(', ')}]; stacked images must share it`);
  });
  // [H, W] or [D, H, W] -> NIfTI (nx, ny, nz) = (W, H, D) and the same for spacing.
  const [nz, ny, nx] = spatial.length === 3 ? spatial : [1, ...spatial];
  const [dz, dy, dx] = spacing.length === 3 ? spacing : [1, ...spacing];
  const nt = images.length;
  const dims = [nt > 1 ? 4 : 3, nx, ny, nz, nt, 1, 1, 1];
  if (dims.some((n) => n > MAX_DIM)) throw new Error(`NIfTI-1 dims are at most ${MAX_DIM}; got [${dims.slice(1, 5).join(', ')}] (x, y, z, images)`);

  const voxels = nx * ny * nz;
  const bytes = new Uint8Array(VOX_OFFSET + nt * voxels * 4);
  const view = new DataView(bytes.buffer);
  const i16 = (at: number, v: number) => view.setInt16(at, v, true);
  const f32 = (at: number, v: number) => view.setFloat32(at, v, true);

  view.setInt32(0, HEADER_BYTES, true); // sizeof_hdr
  bytes[38] = 0x72; // regular = 'r', still checked by some Analyze-era readers
  dims.forEach((n, k) => i16(40 + 2 * k, n));
  i16(70, DT_FLOAT32);
  i16(72, 32); // bitpix
  // pixdim[0] = qfac = 1 (right-handed); unused pixdims stay 1 like dims.
  [1, dx, dy, dz, 1, 1, 1, 1].forEach((v, k) => f32(76 + 4 * k, v));
  f32(108, VOX_OFFSET);
  f32(112, 1); // scl_slope: values are stored unscaled
  f32(116, 0); // scl_inter
  bytes[123] = NIFTI_UNITS_MM | NIFTI_UNITS_SEC;
  // cal_max/cal_min: the display window, widened to cover every image's range.
  f32(124, Math.max(...images.map((im) => im.range[1])));
  f32(128, Math.min(...images.map((im) => im.range[0])));
  const { modality, unit } = images[0];
  writeString(bytes, 148, 80, `medsynth ${modality}${unit ? ` ${unit}` : ''}`); // descrip
  i16(252, NIFTI_XFORM_SCANNER_ANAT); // qform_code: quatern b, c, d and offsets stay 0 (identity)
  i16(254, NIFTI_XFORM_SCANNER_ANAT); // sform_code
  [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0].forEach((v, k) => f32(280 + 4 * k, v)); // srow_x, srow_y, srow_z
  writeString(bytes, 344, 4, 'n+1'); // magic, NUL-terminated

  images.forEach(({ data }, i) => {
    const base = VOX_OFFSET + i * voxels * 4;
    for (let k = 0; k < voxels; k++) f32(base + 4 * k, data[k]);
  });
  return opts.gzip ? gzipSync(bytes, { mtime: 0 }) : bytes;
}
