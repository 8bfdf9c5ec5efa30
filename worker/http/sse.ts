// Reading Server-Sent Events (the subset medsynth sends: `event:` and
// `data:` fields, comments ignored), for the GPU-origin proxy and tests.

export interface SseEvent {
  event: string;
  data: string;
}

/** Yields each event of `body`; throws if one event grows past `maxEventChars` (a runaway stream). */
export async function* readSse(body: ReadableStream<Uint8Array>, maxEventChars = 64 * 2 ** 20): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder(); // stream mode: characters split across chunks decode whole
  let buffer = '';
  let scanned = 0; // buffer[0, scanned) holds no newline: a long line is scanned once, not per chunk
  let event = '';
  let data: string[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n', scanned)) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        scanned = 0;
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          size = 0;
          continue;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'data') {
          data.push(text);
          size += text.length;
        }
      }
      scanned = buffer.length;
      if (size + buffer.length > maxEventChars) throw new Error(`an event stream event is over ${maxEventChars} characters`);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
