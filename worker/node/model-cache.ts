// Loaded models by id, shared by concurrent requests. A model is reloaded
// when its manifest.json changes on disk, at most `max` stay loaded (least
// recently used go first), and a model's tensors are freed only once no
// request is using it.
interface Entry<T> {
  /** Identifies the manifest version the model was loaded from. */
  version: string;
  model: Promise<T>;
  users: number;
  retired: boolean;
}

/** T: what a loaded model is (a LoadedModel, or one with its thread pool); freed by its dispose(). */
export class ModelCache<T extends { dispose(): unknown }> {
  readonly #entries = new Map<string, Entry<T>>();

  constructor(
    private readonly load: (id: string) => Promise<T>,
    /** Changes whenever the model's files do (e.g. the manifest's inode, size and mtime). */
    private readonly versionOf: (id: string) => Promise<string>,
    private readonly max: number,
  ) {}

  /** Runs `fn` with the current version of model `id`, loading it if needed. */
  async use<R>(id: string, fn: (model: T) => Promise<R>): Promise<R> {
    const version = await this.versionOf(id);
    let entry = this.#entries.get(id);
    if (entry?.version !== version) {
      if (entry) this.#retire(id, entry);
      const fresh: Entry<T> = { version, model: this.load(id), users: 0, retired: false };
      // A failed load is not kept: the next request tries again.
      fresh.model.catch(() => this.#entries.get(id) === fresh && this.#entries.delete(id));
      entry = fresh;
    }
    this.#entries.delete(id); // re-inserted last: Map order is least recently used first
    this.#entries.set(id, entry);
    while (this.#entries.size > this.max) {
      const [oldId, old] = this.#entries.entries().next().value!;
      this.#retire(oldId, old);
    }
    entry.users++;
    try {
      return await fn(await entry.model);
    } finally {
      entry.users--;
      if (entry.retired && entry.users === 0) this.#dispose(entry);
    }
  }

  /** Drops every model; those in use are freed when their requests finish. */
  clear(): void {
    for (const [id, entry] of [...this.#entries]) this.#retire(id, entry);
  }

  #retire(id: string, entry: Entry<T>): void {
    if (this.#entries.get(id) === entry) this.#entries.delete(id);
    entry.retired = true;
    if (entry.users === 0) this.#dispose(entry);
  }

  #dispose(entry: Entry<T>): void {
    entry.model.then(
      (m) => void Promise.resolve(m.dispose()).catch(() => {}),
      () => {},
    );
  }
}
