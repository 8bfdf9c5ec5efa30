// One AbortSignal per sampling request that fires when the client goes away
// or the request's time limit passes, and says which of the two it was.
// Not hono/timeout: that answers 504 but leaves the generation running (and
// its queue slot taken); this signal stops the sampler between steps.

export interface Deadline {
  signal: AbortSignal;
  /** True when the signal fired because the time limit passed. */
  readonly timedOut: boolean;
  /** Aborts as if the client left (idempotent), for clients gone in ways the request signal misses (a cancelled stream). */
  cancel(): void;
  /** Clears the timer and the client listener; call once the request is done. */
  dispose(): void;
}

export function deadline(client: AbortSignal, timeoutMs: number): Deadline {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort(new DOMException(`time limit of ${timeoutMs} ms passed`, 'TimeoutError'));
  }, timeoutMs);
  const onClientGone = () => ctrl.abort(new DOMException('the client disconnected', 'AbortError'));
  if (client.aborted) onClientGone();
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: a signal aborts once, so `once` only spares the removal dispose() does anyway.
  else client.addEventListener('abort', onClientGone, { once: true });
  return {
    signal: ctrl.signal,
    get timedOut() {
      return timedOut;
    },
    cancel: onClientGone,
    dispose() {
      clearTimeout(timer);
      client.removeEventListener('abort', onClientGone);
    },
  };
}
