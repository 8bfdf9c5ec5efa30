// The training config's augmentation fields: checked in one place, with errors naming the field.
import { describe, expect, it } from 'vitest';
import { parseTrainConfig } from '../../trainer/config.ts';

describe('parseTrainConfig: affine augmentation', () => {
  it('is off unless asked for; fields left out are 0', () => {
    expect(parseTrainConfig({}).affine).toBeUndefined();
    expect(parseTrainConfig({ affine: { rotate: 5 } }).affine).toEqual({ rotate: 5, scale: 0, shift: 0, gain: 0 });
  });

  it('names the field that is out of range or unknown', () => {
    expect(() => parseTrainConfig({ affine: { rotate: 90 } })).toThrow(/train\.affine\.rotate/);
    expect(() => parseTrainConfig({ affine: { shift: -0.1 } })).toThrow(/train\.affine\.shift/);
    expect(() => parseTrainConfig({ affine: { flip: true } })).toThrow(/train\.affine.*flip/);
  });
});
