// Input-size limits of the readers, checked before anything that size is
// allocated, so a small hostile file (a decompression bomb, a PNG declaring
// 20000 x 20000 pixels) costs an error naming the file and the limit, never
// the machine's memory. Far above any real scan or radiograph.

/** Bytes read from one file (a 512^3 float32 volume is 512 MiB). */
export const MAX_FILE_BYTES = 1 << 30;
/** Bytes a .nii.gz may inflate to (zlib stops at this size). */
export const MAX_INFLATED_BYTES = 1 << 30;
/** Pixels of one 2D image (a 4000 x 4000 radiograph is 16 M). */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;
/** Voxels of a volume made by preprocessing (a 512^3 grid is 128 M): an absurd voxel
 * size in a header (pixdim 1e30) would otherwise ask resampling for an endless grid. */
export const MAX_VOLUME_VOXELS = 256 * 1024 * 1024;

const mib = (n: number) => `${n / (1 << 20)} MiB`;
export const describeLimit = {
  bytes: mib,
  pixels: (n: number) => `${n / (1024 * 1024)} M pixels`,
  voxels: (n: number) => `${n / (1024 * 1024)} M voxels`,
};
