// GeneratedImage builders for the encoder tests.
import type { GeneratedImage } from '../../../sampler/encode/types.ts';

/** An image of `shape` whose value at flat index i is `value(i)`; spacing 1 mm unless given. */
export function image(shape: number[], value: (i: number) => number, over: Partial<GeneratedImage> = {}): GeneratedImage {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    data: Float32Array.from({ length: size }, (_, i) => value(i)),
    shape,
    spacing: shape.slice(0, -1).map(() => 1),
    modality: 'xray',
    unit: '',
    range: [0, 255],
    ...over,
  };
}

export const constant = (shape: number[], v: number, over: Partial<GeneratedImage> = {}) => image(shape, () => v, over);
