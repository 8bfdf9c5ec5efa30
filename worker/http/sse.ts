// Reading Server-Sent Events, for the GPU-origin proxy and tests: the
// WHATWG event-stream grammar is eventsource-parser's (3.0.6, the last for
// Node 20); this adds the stream plumbing and a bound on one event's size
// (a runaway origin). A result event is one long base64 line; both this
// parser and the hand-written one it replaced take time quadratic in such a
// line's chunks (a 64 Mi-character line in 64 KiB chunks: about 32 s each,
// 4 Mi: 0.13 s), so the bound keeps it finite, not fast.
import { createParser } from 'eventsource-parser';

export interface SseEvent {
  event: string;
  data: string;
}

/** Yields each event of `body`; throws once one event grows past `maxEventChars` (counted to within one chunk). */
export async function* readSse(body: ReadableStream<Uint8Array>, maxEventChars = 64 * 2 ** 20): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder(); // stream mode: characters split across chunks decode whole
  const ready: SseEvent[] = [];
  let pending = 0; // characters fed since the last whole event
  const parser = createParser({
    onEvent: (m) => {
      ready.push({ event: m.event ?? 'message', data: m.data });
      pending = 0;
    },
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const text = decoder.decode(value, { stream: true });
      pending += text.length;
      parser.feed(text);
      yield* ready.splice(0);
      if (pending > maxEventChars) throw new Error(`an event stream event is over ${maxEventChars} characters`);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
