// Conditional and range requests (RFC 9110 §13, §14): the parts the shard
// routes need, in one place for every storage.
import type { ByteRange } from '../storage.ts';

/** A parsed `Range: bytes=...` with one range: `first-[last]` or `-suffix`. */
export type RangeSpec = { first: number; last?: number } | { suffix: number };

const RANGE_RE = /^bytes=(?:(\d{1,15})-(\d{1,15})?|-(\d{1,15}))$/;

/**
 * The single byte range asked for, or undefined to serve the whole file: no
 * header, another unit, a malformed header, or several ranges (which a server
 * may answer with the whole representation, §14.2).
 */
export function parseRange(header: string | undefined): RangeSpec | undefined {
  const m = header === undefined ? null : RANGE_RE.exec(header.replace(/\s+/g, ''));
  if (!m) return undefined;
  if (m[3] !== undefined) return { suffix: Number(m[3]) };
  const first = Number(m[1]);
  const last = m[2] === undefined ? undefined : Number(m[2]);
  if (last !== undefined && last < first) return undefined; // invalid, so ignored (§14.1.1)
  return { first, last };
}

/** The bytes `spec` selects in a file of `size`, or undefined when it selects none (416). */
export function resolveRange(spec: RangeSpec, size: number): ByteRange | undefined {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || size === 0) return undefined;
    const length = Math.min(spec.suffix, size);
    return { offset: size - length, length };
  }
  if (spec.first >= size) return undefined;
  const end = Math.min(spec.last ?? size - 1, size - 1);
  return { offset: spec.first, length: end - spec.first + 1 };
}

/** The opaque tags of an entity-tag list, without weakness prefixes. */
function opaqueTags(list: string): string[] {
  return list.split(',').map((t) => t.trim().replace(/^W\//, '')).filter(Boolean);
}

/** If-None-Match uses the weak comparison (§13.1.2): `*` or any listed tag equal to ours, W/ ignored. */
export function noneMatchHits(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const ours = etag.replace(/^W\//, '');
  return opaqueTags(ifNoneMatch).includes(ours);
}

/** If-Range needs a strong match (§13.1.5): a date or a different tag means "send the whole file". */
export function ifRangeHolds(ifRange: string | undefined, etag: string): boolean {
  return ifRange === undefined || (!ifRange.startsWith('W/') && !etag.startsWith('W/') && ifRange.trim() === etag);
}
