// Global concurrency limit with a bounded queue: at most `maxActive`
// generations run, at most `maxQueued` wait, and a request beyond that is
// refused at once (503) instead of piling up memory and latency.

export class QueueFullError extends Error {
  constructor() {
    super('the server is busy: every sampling slot and queue place is taken');
    this.name = 'QueueFullError';
  }
}

export class WorkQueue {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly maxActive: number,
    private readonly maxQueued: number,
  ) {}

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * A slot for one unit of work; resolves to its release function. Throws
   * QueueFullError synchronously when no place is left, so callers can answer
   * 503 before committing to a response. Rejects with `signal`'s reason if it
   * aborts while waiting (the place is given up).
   */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (this.#active < this.maxActive) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.maxQueued) throw new QueueFullError();
    return new Promise((resolve, reject) => {
      const wake = () => {
        // Stryker disable next-line StringLiteral: left attached, a later abort finds no waiter and rejects a settled promise: no effect.
        signal.removeEventListener('abort', onAbort);
        resolve(this.#releaser());
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(wake);
        // Stryker disable next-line ConditionalExpression: onAbort runs only while the waiter is queued (wake detaches it), so i >= 0 always holds.
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: a signal aborts once; `once` changes nothing observable.
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(wake);
    });
  }

  /** Release is idempotent; the slot passes straight to the next waiter. */
  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    };
  }
}
