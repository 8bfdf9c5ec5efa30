// Per-client rate limit: a token bucket per client key, refilled
// continuously, so a client may burst up to `requests` and then sustain
// `requests` per `windowMs`. State is in memory: per process on Node, per
// isolate on Workers (best effort there; a Durable Object would make it global).

export interface RateLimitOptions {
  requests: number;
  windowMs: number;
  /** Buckets kept at once; the least recently used client is forgotten first. */
  maxClients: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `client`: 0 when allowed, else the seconds until one is available. */
  take(client: string): number {
    const { requests, windowMs, maxClients } = this.opts;
    const perMs = requests / windowMs;
    const t = this.now();
    const prior = this.#buckets.get(client);
    const tokens = prior ? Math.min(requests, prior.tokens + (t - prior.at) * perMs) : requests;
    this.#buckets.delete(client); // re-inserted last: Map order is least recently used first
    if (tokens < 1) {
      this.#buckets.set(client, { tokens, at: t });
      return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    }
    this.#buckets.set(client, { tokens: tokens - 1, at: t });
    if (this.#buckets.size > maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
    return 0;
  }
}
