import { describe, expect, it } from 'vitest';
import { ifRangeHolds, noneMatchHits, parseRange, resolveRange } from '../../../worker/http/conditional.ts';

describe('parseRange', () => {
  it('parses one byte range of each form', () => {
    expect(parseRange('bytes=0-99')).toEqual({ first: 0, last: 99 });
    expect(parseRange('bytes=100-')).toEqual({ first: 100, last: undefined });
    expect(parseRange('bytes=-5')).toEqual({ suffix: 5 });
    expect(parseRange('bytes= 3 - 4')).toEqual({ first: 3, last: 4 });
  });

  it('ignores what it does not serve: other units, several ranges, malformed or reversed ranges', () => {
    for (const h of [undefined, '', 'items=0-1', 'bytes=0-1,4-5', 'bytes=abc', 'bytes=5-2', 'bytes=-', 'bytes=1234567890123456-']) {
      expect(parseRange(h), String(h)).toBeUndefined();
    }
  });
});

describe('resolveRange', () => {
  it('clips to the file and rejects ranges that select nothing', () => {
    expect(resolveRange({ first: 0, last: 9 }, 100)).toEqual({ offset: 0, length: 10 });
    expect(resolveRange({ first: 90, last: 500 }, 100)).toEqual({ offset: 90, length: 10 });
    expect(resolveRange({ first: 99 }, 100)).toEqual({ offset: 99, length: 1 });
    expect(resolveRange({ suffix: 10 }, 100)).toEqual({ offset: 90, length: 10 });
    expect(resolveRange({ suffix: 500 }, 100)).toEqual({ offset: 0, length: 100 });
    expect(resolveRange({ first: 100 }, 100)).toBeUndefined();
    expect(resolveRange({ suffix: 0 }, 100)).toBeUndefined();
    expect(resolveRange({ suffix: 3 }, 0)).toBeUndefined();
  });
});

describe('entity tags', () => {
  it('If-None-Match compares weakly over a list, and * matches anything', () => {
    expect(noneMatchHits('"a"', '"a"')).toBe(true);
    expect(noneMatchHits('W/"a"', '"a"')).toBe(true);
    expect(noneMatchHits('"x", "a"', '"a"')).toBe(true);
    expect(noneMatchHits('*', '"a"')).toBe(true);
    expect(noneMatchHits('"b"', '"a"')).toBe(false);
    expect(noneMatchHits(undefined, '"a"')).toBe(false);
  });

  it('If-Range needs a strong, exact match', () => {
    expect(ifRangeHolds(undefined, '"a"')).toBe(true);
    expect(ifRangeHolds('"a"', '"a"')).toBe(true);
    expect(ifRangeHolds('W/"a"', '"a"')).toBe(false);
    expect(ifRangeHolds('"b"', '"a"')).toBe(false);
    expect(ifRangeHolds('Wed, 21 Oct 2015 07:28:00 GMT', '"a"')).toBe(false);
  });
});
