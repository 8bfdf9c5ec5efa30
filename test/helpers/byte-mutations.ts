// Byte-level mutations for the fuzz suites: overwrite, insert, delete, truncate.
import fc from 'fast-check';

export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** `src` with `muts` applied in order; `span` keeps positions within the first `span` bytes (where headers are). */
export function mutate(src: Uint8Array, muts: Mutation[], span = Infinity): Uint8Array {
  let b = Array.from(src);
  for (const m of muts) {
    const n = Math.min(b.length, span);
    const at = n === 0 ? 0 : m.at % (n + 1);
    if (m.kind === 'set' && b.length > 0) b[at % b.length] = m.value;
    else if (m.kind === 'insert') b.splice(at, 0, ...m.bytes);
    else if (m.kind === 'delete') b.splice(at, m.count);
    else if (m.kind === 'truncate') b = b.slice(0, at);
  }
  return new Uint8Array(b);
}
