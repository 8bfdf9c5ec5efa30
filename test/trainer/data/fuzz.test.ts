// Property tests of the image readers as hostile-input parsers: whatever
// bytes a file holds, a reader returns a well-formed Volume within the stated
// limits or throws a ReadError naming the file; nothing else, and no hang.
// Fixed seeds (reproducible); each property has a time budget for slow
// machines: runs cut by the budget count as passed, failures are failures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { encode as encodeJpeg } from 'jpeg-js';
import { encode as encodePng } from 'fast-png';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDicom, decodeJpeg, decodeNifti, decodePng, ReadError } from '../../../trainer/data/index.ts';
import { MAX_IMAGE_PIXELS, MAX_INFLATED_BYTES } from '../../../trainer/data/limits.ts';
import type { Volume } from '../../../trainer/data/types.ts';
import { mutate, mutation } from '../../helpers/byte-mutations.ts';

const FIX = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const fixture = (p: string) => new Uint8Array(readFileSync(join(FIX, p)));

/** A decode either gives a sound volume inside the limits, or a ReadError on `source`. */
function soundOrReadError(decode: () => Volume, source: string): void {
  let v: Volume;
  try {
    v = decode();
  } catch (e) {
    if (!(e instanceof ReadError)) throw new Error(`threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    expect(e.file).toBe(source);
    return;
  }
  const [d, h, w] = v.shape;
  expect(v.data.length).toBe(d * h * w);
  expect(v.data.length * 4).toBeLessThanOrEqual(MAX_INFLATED_BYTES);
  if (d === 1) expect(h * w).toBeLessThanOrEqual(MAX_IMAGE_PIXELS);
  expect(v.spacing.every((s) => Number.isFinite(s) && s > 0)).toBe(true);
}

const budget = { seed: 20261202, numRuns: 200, interruptAfterTimeLimit: 30_000 } as const;

const seeds: [string, (b: Uint8Array, s: string) => Volume, Uint8Array][] = [
  ['NIfTI', decodeNifti, fixture('nifti/ch2bet-24x28x20-uint8.nii')],
  ['NIfTI (gzip)', decodeNifti, fixture('nifti/inia19-21x26x16-float32-be.nii.gz')],
  ['DICOM', decodeDicom, fixture('dicom/MR_small.dcm')],
  ['DICOM (RLE)', decodeDicom, fixture('dicom/MR_small_RLE.dcm')],
  ['PNG', decodePng, encodePng({ width: 20, height: 16, data: Uint8Array.from({ length: 320 }, (_, i) => (i * 7) % 256), depth: 8, channels: 1 })],
  ['JPEG', decodeJpeg, encodeJpeg({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 4).fill(128) }, 90).data],
];

describe('reader fuzzing: a sound volume or a ReadError naming the file', () => {
  it.each(seeds)('%s with mutated bytes', (_, decode, valid) => {
    // The unmutated file reads.
    soundOrReadError(() => decode(valid, 'seed'), 'seed');
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.boolean(), (muts, headerBias) => {
        // Half the runs mutate only the first 512 bytes, where the headers that decide sizes are.
        soundOrReadError(() => decode(mutate(valid, muts, headerBias ? 512 : Infinity), 'fuzzed'), 'fuzzed');
      }),
      budget,
    );
  });

  it('NIfTI with a mutated header inside a valid gzip stream (sizes the header declares)', () => {
    const nii = fixture('nifti/ch2bet-24x28x20-uint8.nii');
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        soundOrReadError(() => decodeNifti(gzipSync(mutate(nii, muts, 512)), 'fuzzed.nii.gz'), 'fuzzed.nii.gz');
      }),
      budget,
    );
  });

  it.each(seeds)('%s reader on random bytes', (_, decode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => soundOrReadError(() => decode(bytes, 'random'), 'random')),
      budget,
    );
  });
});
