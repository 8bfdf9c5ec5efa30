import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../../worker/http/base64.ts';
import { readSse } from '../../../worker/http/sse.ts';

/** A stream of `text` cut into pieces of `size` bytes (so lines and characters straddle chunks). */
function streamOf(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let pos = 0;
  return new ReadableStream({
    pull(c) {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + size));
      pos += size;
    },
  });
}

async function all(stream: ReadableStream<Uint8Array>, max?: number) {
  const out = [];
  for await (const e of readSse(stream, max)) out.push(e);
  return out;
}

describe('readSse', () => {
  it('reads events with multi-line data, CRLF, comments and chunk boundaries anywhere', async () => {
    const text = ': hello\nevent: progress\ndata: {"step":1}\n\r\nevent: result\ndata: a\ndata: b é\n\ndata: plain\n\n';
    for (const size of [1, 3, 1000]) {
      expect(await all(streamOf(text, size))).toEqual([
        { event: 'progress', data: '{"step":1}' },
        { event: 'result', data: 'a\nb é' },
        { event: 'message', data: 'plain' },
      ]);
    }
  });

  it('refuses an event that grows without end', async () => {
    await expect(all(streamOf(`data: ${'x'.repeat(5000)}`, 100), 1000)).rejects.toThrow(/over 1000 characters/);
  });
});

describe('base64', () => {
  it('round-trips bytes of every value, across the chunk size', () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7919) % 256);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect(toBase64(new Uint8Array(0))).toBe('');
  });
});
