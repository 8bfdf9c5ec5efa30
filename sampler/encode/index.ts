// Output encoders, and the choice among them by file extension.
import { encodeMontagePng } from './montage.ts';
import { encodeNifti } from './nifti.ts';
import { encodePng, type PngOptions } from './png.ts';
import type { GeneratedImage } from './types.ts';

export { checkImages, type GeneratedImage } from './types.ts';
export { encodePng, type PngOptions } from './png.ts';
export { encodeMontagePng, pickSlices, type MontageOptions } from './montage.ts';
export { encodeNifti, type NiftiOptions } from './nifti.ts';

export type OutputFormat = 'png' | 'nii' | 'nii.gz';

/** The output format for `path`'s extension (any case); throws naming the supported ones. */
export function outputFormat(path: string): OutputFormat {
  const name = path.split(/[\\/]/).pop() ?? '';
  const lower = name.toLowerCase();
  if (lower.endsWith('.nii.gz')) return 'nii.gz';
  if (lower.endsWith('.nii')) return 'nii';
  if (lower.endsWith('.png')) return 'png';
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot) : '';
  throw new Error(`unsupported output extension "${ext}": expected .png, .nii or .nii.gz`);
}

/**
 * Encodes for `path`'s extension: `.png` is one 2D image as is, and several
 * images or volumes as a montage; `.nii` / `.nii.gz` is NIfTI-1.
 */
export function encodeByExtension(path: string, images: readonly GeneratedImage[], opts: PngOptions = {}): Uint8Array {
  switch (outputFormat(path)) {
    case 'nii.gz':
      return encodeNifti(images, { gzip: true });
    case 'nii':
      return encodeNifti(images);
    case 'png':
      return images.length === 1 && images[0].shape.length === 3 ? encodePng(images[0], opts) : encodeMontagePng(images, opts);
  }
}
