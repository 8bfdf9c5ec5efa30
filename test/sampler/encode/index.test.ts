import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { encodeByExtension, encodeMontagePng, encodeNifti, encodePng } from '../../../sampler/encode/index.ts';
import { constant, image } from './fixtures.ts';

const flat = image([2, 3, 1], (i) => i * 40);
const volume = image([3, 2, 2, 1], (i) => i * 10);

describe('encodeByExtension', () => {
  it('writes one 2D image to .png as is, in any case', () => {
    expect(encodeByExtension('out/a.png', [flat])).toEqual(encodePng(flat));
    expect(encodeByExtension('A.PNG', [flat], { bitDepth: 16 })).toEqual(encodePng(flat, { bitDepth: 16 }));
  });

  it('writes several images or a volume to .png as a montage', () => {
    const two = [flat, constant([2, 3, 1], 7)];
    expect(encodeByExtension('a.png', two)).toEqual(encodeMontagePng(two));
    expect(encodeByExtension('a.Png', [volume], { bitDepth: 16 })).toEqual(encodeMontagePng([volume], { bitDepth: 16 }));
    expect(decode(encodeByExtension('a.png', [volume])).width).toBe(2 * 3 - 1);
  });

  it('writes .nii plain and .nii.gz gzipped', () => {
    expect(encodeByExtension('/tmp/x.nii', [volume])).toEqual(encodeNifti([volume]));
    expect(encodeByExtension('x.NII.GZ', [volume])).toEqual(encodeNifti([volume], { gzip: true }));
  });

  it('names an unsupported extension and the supported ones', () => {
    expect(() => encodeByExtension('x.jpg', [flat])).toThrow('unsupported output extension ".jpg": expected .png, .nii or .nii.gz');
    expect(() => encodeByExtension('x.tar.gz', [flat])).toThrow('unsupported output extension ".gz"');
    expect(() => encodeByExtension('dir.png/out', [flat])).toThrow('unsupported output extension ""');
  });

  it('passes encoder errors through', () => {
    expect(() => encodeByExtension('x.png', [])).toThrow(/no images to encode/);
    expect(() => encodeByExtension('x.nii', [constant([2, 2, 3], 0)])).toThrow(/single-channel/);
  });
});
