// A generation's images as the requested output: PNG (one 2D image as is,
// several or a volume as a montage), gzipped NIfTI-1, or JSON with each
// image's float32 values (real units, little-endian) in base64.
import { encodeMontagePng, encodeNifti, encodePng } from '../../sampler/encode/index.ts';
import type { GenerateResult } from '../../sampler/generate.ts';
import { toBase64 } from '../http/base64.ts';
import type { SampleJob, SampleResult } from '../sample-service.ts';

/** Response bodies take ArrayBuffer-backed views; the copy is small next to a generation. */
const owned = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

export function encodeOutput(modelId: string, request: SampleJob, result: GenerateResult): SampleResult {
  const { images } = result;
  const stem = `${modelId}-seed${result.seed}`;
  switch (request.output) {
    case 'png': {
      const png = images.length === 1 && images[0].shape.length === 3 ? encodePng(images[0]) : encodeMontagePng(images);
      return { contentType: 'image/png', body: owned(png), filename: `${stem}.png` };
    }
    case 'nifti':
      return { contentType: 'application/gzip', body: owned(encodeNifti(images, { gzip: true })), filename: `${stem}.nii.gz` };
    case 'json': {
      const doc = {
        model: modelId,
        backend: result.backend,
        sampler: result.sampler,
        steps: result.steps,
        seed: result.seed,
        images: images.map((im) => ({
          shape: im.shape,
          spacing: im.spacing,
          modality: im.modality,
          unit: im.unit,
          range: im.range,
          dtype: 'float32',
          // Typed arrays use the host's byte order: little-endian on every platform Node and tfjs support.
          data: toBase64(new Uint8Array(im.data.buffer, im.data.byteOffset, im.data.byteLength)),
        })),
      };
      return { contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(doc)), filename: `${stem}.json` };
    }
  }
}
