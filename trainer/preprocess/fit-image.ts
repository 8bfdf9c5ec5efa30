// Whole 2D images (radiographs) onto the model grid: resized to fit inside
// it with the aspect ratio kept, the short side padded (DESIGN §7: never
// centre-crop a radiograph, whose anatomy fills the frame).
//
// Downsampling is area averaging: output pixel i along an axis of n input
// pixels and n' output pixels covers the input interval [i n/n', (i+1) n/n')
// and takes the mean of the input over it, each input pixel weighted by its
// overlap. That is the exact box prefilter of the scale factor (PIL's
// Image.reduce / OpenCV's INTER_AREA), so a 512 px radiograph at 64 px does
// not alias its ribs. Upsampling (an image smaller than the grid) is linear
// interpolation (resample.ts), which has nothing to alias.
import type { Volume } from '../data/types.ts';
import { assertVolume, fmt, PreprocessError } from './common.ts';
import { resample } from './resample.ts';

/** Box-filter weights of n -> nOut along one axis: for each output index, its [input index, weight] pairs (weights sum to 1). */
function areaWeights(n: number, nOut: number): { index: Int32Array; weight: Float64Array; start: Int32Array } {
  const scale = n / nOut;
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(nOut + 1);
  for (let i = 0; i < nOut; i++) {
    start[i] = index.length;
    const a = i * scale;
    const b = (i + 1) * scale;
    for (let k = Math.floor(a); k < Math.min(n, Math.ceil(b)); k++) {
      const overlap = Math.min(b, k + 1) - Math.max(a, k);
      if (overlap > 0) {
        index.push(k);
        weight.push(overlap / scale);
      }
    }
  }
  start[nOut] = index.length;
  return { index: Int32Array.from(index), weight: Float64Array.from(weight), start };
}

/** [h, w] -> [hOut, wOut] by area averaging (hOut <= h, wOut <= w); rows then columns. */
export function areaResize(data: Float32Array, h: number, w: number, hOut: number, wOut: number): Float32Array {
  if (hOut > h || wOut > w) throw new Error(`areaResize downsamples only: ${h}x${w} -> ${hOut}x${wOut}`);
  const cols = areaWeights(w, wOut);
  const rows = areaWeights(h, hOut);
  const tmp = new Float64Array(h * wOut); // [h, wOut]
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < wOut; x++) {
      let s = 0;
      for (let j = cols.start[x]; j < cols.start[x + 1]; j++) s += cols.weight[j] * data[y * w + cols.index[j]];
      tmp[y * wOut + x] = s;
    }
  }
  const out = new Float32Array(hOut * wOut);
  for (let y = 0; y < hOut; y++) {
    for (let j = rows.start[y]; j < rows.start[y + 1]; j++) {
      const src = rows.index[j] * wOut;
      const wt = rows.weight[j];
      for (let x = 0; x < wOut; x++) out[y * wOut + x] += wt * tmp[src + x];
    }
  }
  return out;
}

export interface ContainFit {
  /** [H, W] values on the grid: the image resized and centred, the rest `fill`. */
  data: Float32Array;
  /** The resized image's [h, w] inside the grid, and its top-left offset. */
  size: [number, number];
  offset: [number, number];
  /** mm per grid pixel: the image's spacing times the scale factor. */
  spacing: [number, number];
}

/**
 * A [1, h, w] image scaled by min(H / h, W / w) (so it fits inside [H, W]
 * whole), centred, and padded with `fill`. The pixel spacing grows by the
 * same factor on both axes, so the aspect ratio is kept.
 */
export function containFit(image: Volume, grid: readonly [number, number], fill: number): ContainFit {
  assertVolume(image);
  const [d, h, w] = image.shape;
  if (d !== 1) throw new PreprocessError([image.source], `fitting a whole image needs a 2D image, got a volume ${fmt(image.shape)}`);
  const [H, W] = grid;
  const scale = Math.min(H / h, W / w);
  const hOut = Math.min(H, Math.max(1, Math.round(h * scale)));
  const wOut = Math.min(W, Math.max(1, Math.round(w * scale)));
  const resized =
    hOut <= h && wOut <= w ? areaResize(image.data, h, w, hOut, wOut) : resample(image, { shape: [1, hOut, wOut] }).data;
  const top = Math.floor((H - hOut) / 2);
  const left = Math.floor((W - wOut) / 2);
  const data = new Float32Array(H * W).fill(fill);
  for (let y = 0; y < hOut; y++) data.set(resized.subarray(y * wOut, (y + 1) * wOut), (top + y) * W + left);
  return {
    data,
    size: [hOut, wOut],
    offset: [top, left],
    spacing: [(image.spacing[1] * h) / hOut, (image.spacing[2] * w) / wOut],
  };
}
