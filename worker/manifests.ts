// Validated manifests by model id, revalidated against storage on every use
// with If-None-Match: an unchanged manifest costs one bodiless storage read
// (an R2 get that returns no body), a republished one is parsed again.
import { CheckpointError } from '../shared/checkpoint/errors.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../shared/checkpoint/manifest.ts';
import { DEFAULT_LIMITS } from '../shared/checkpoint/types.ts';
import type { ModelStorage } from './storage.ts';

/** A manifest, or why the model's manifest.json is unusable. */
export type ManifestResult = { manifest: Manifest } | { problem: string };

interface Entry {
  etag: string;
  result: ManifestResult;
}

export class ManifestCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly storage: ModelStorage,
    private readonly maxEntries = 256,
  ) {}

  /** undefined when the model does not exist. */
  async get(id: string): Promise<ManifestResult | undefined> {
    const cached = this.#entries.get(id);
    const file = await this.storage.get(id, MANIFEST_FILE, { ifNoneMatch: cached?.etag });
    if (!file) {
      this.#entries.delete(id);
      return undefined;
    }
    if (cached && !file.body) return cached.result;
    const result = await this.#parse(id, file.size, file.body);
    this.#entries.delete(id); // re-inserted last: the Map's order is least recently loaded first
    this.#entries.set(id, { etag: file.etag, result });
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return result;
  }

  async #parse(id: string, size: number, body: ReadableStream<Uint8Array> | undefined): Promise<ManifestResult> {
    // Named by id only: messages reach clients, server paths must not.
    const name = `${id}/${MANIFEST_FILE}`;
    if (size > DEFAULT_LIMITS.maxManifestBytes) {
      await body?.cancel();
      return { problem: `${name}: ${size} bytes, over the limit of ${DEFAULT_LIMITS.maxManifestBytes}` };
    }
    try {
      return { manifest: parseManifest(await new Response(body).text(), name) };
    } catch (e) {
      if (e instanceof CheckpointError) return { problem: e.message };
      throw e;
    }
  }
}
