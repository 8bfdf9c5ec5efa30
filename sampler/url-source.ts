// A checkpoint under a URL prefix (a static host, the worker's
// /v1/models/:id/, a CDN). Streams the body so progress is reported and a
// response larger than expected is cut off instead of buffered.
import { CheckpointError } from '../shared/checkpoint/errors.ts';
import { fileNameProblem } from '../shared/checkpoint/types.ts';
import type { CheckpointSource } from '../shared/checkpoint/types.ts';

export function urlSource(baseUrl: string, fetchImpl: typeof fetch = fetch): CheckpointSource {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    location: base,
    async read(file, onBytes, maxBytes) {
      const url = `${base}/${encodeURIComponent(file)}`;
      const problem = fileNameProblem(file);
      if (problem) throw new CheckpointError(url, problem);
      let res: Response;
      try {
        res = await fetchImpl(url);
      } catch (e) {
        throw new CheckpointError(url, `fetch failed: ${(e as Error).message}`, { cause: e });
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        const missing = res.status === 404 || res.status === 410;
        throw new CheckpointError(url, `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, { missing });
      }
      // Content-Length counts encoded bytes; only trust it for identity bodies.
      const encoding = res.headers.get('content-encoding');
      const declared = Number(res.headers.get('content-length') ?? NaN);
      const exact = (!encoding || encoding === 'identity') && Number.isSafeInteger(declared) && declared >= 0;
      const tooMany = (n: number) =>
        new CheckpointError(url, `response has ${n === declared && exact ? '' : 'at least '}${n} bytes, more than the expected ${maxBytes}`);
      if (exact && maxBytes !== undefined && declared > maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw tooMany(declared);
      }
      if (!res.body) {
        const whole = new Uint8Array(await res.arrayBuffer());
        if (maxBytes !== undefined && whole.length > maxBytes) throw tooMany(whole.length);
        onBytes?.(whole.length);
        return whole;
      }
      const reader = res.body.getReader();
      const chunks: Uint8Array[] = [];
      let loaded = 0;
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (e) {
          throw new CheckpointError(url, `download failed after ${loaded} bytes: ${(e as Error).message}`, { cause: e });
        }
        if (step.done) break;
        loaded += step.value.length;
        try {
          if (maxBytes !== undefined && loaded > maxBytes) throw tooMany(loaded);
          chunks.push(step.value);
          onBytes?.(loaded);
        } catch (e) {
          await reader.cancel().catch(() => {});
          throw e;
        }
      }
      if (chunks.length === 1) return chunks[0];
      const out = new Uint8Array(loaded);
      let offset = 0;
      for (const c of chunks) {
        out.set(c, offset);
        offset += c.length;
      }
      return out;
    },
  };
}
