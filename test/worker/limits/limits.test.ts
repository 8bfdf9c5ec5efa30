import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { onError } from '../../../worker/errors.ts';
import { requireApiKey } from '../../../worker/limits/api-key.ts';
import { deadline } from '../../../worker/limits/deadline.ts';
import { RateLimiter } from '../../../worker/limits/rate-limit.ts';
import { QueueFullError, WorkQueue } from '../../../worker/limits/work-queue.ts';

describe('RateLimiter', () => {
  it('allows a burst, then one request per refill interval, per client', () => {
    let now = 0;
    const rl = new RateLimiter({ requests: 3, windowMs: 3000, maxClients: 100 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    expect(rl.take('a')).toBe(1); // one token per second
    expect(rl.take('b')).toBe(0);
    now = 1000;
    expect(rl.take('a')).toBe(0);
    expect(rl.take('a')).toBe(1);
  });

  it('caps the bucket at the burst size however long a client sits idle', () => {
    let now = 0;
    const rl = new RateLimiter({ requests: 3, windowMs: 3000, maxClients: 100 }, () => now);
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    now = 60 * 60_000; // an hour idle would refill 3600 tokens without the cap
    expect([rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([0, 0, 0]);
    expect(rl.take('a')).toBe(1);
  });

  it('answers the whole seconds until the next token, at least 1', () => {
    let now = 0;
    // 2 tokens a minute: one every 30 s.
    const rl = new RateLimiter({ requests: 2, windowMs: 60_000, maxClients: 100 }, () => now);
    expect([rl.take('a'), rl.take('a')]).toEqual([0, 0]);
    expect(rl.take('a')).toBe(30);
    now = 20_000; // two thirds of a token refilled: 10 s to go
    expect(rl.take('a')).toBe(10);
    now = 29_999;
    expect(rl.take('a')).toBe(1); // a millisecond short still says 1, never 0
  });

  it('forgets the least recently seen clients beyond maxClients', () => {
    const rl = new RateLimiter({ requests: 1, windowMs: 60_000, maxClients: 2 }, () => 0);
    rl.take('a');
    rl.take('b');
    rl.take('c'); // evicts a
    expect(rl.take('a')).toBe(0);
    expect(rl.take('c')).toBeGreaterThan(0);
  });
});

describe('WorkQueue', () => {
  it('runs up to maxActive, queues up to maxQueued, refuses beyond, and hands slots on in order', async () => {
    const q = new WorkQueue(1, 2);
    const signal = new AbortController().signal;
    const r1 = await q.acquire(signal);
    const order: number[] = [];
    const p2 = q.acquire(signal).then((r) => (order.push(2), r));
    const p3 = q.acquire(signal).then((r) => (order.push(3), r));
    expect(() => q.acquire(signal)).toThrow(QueueFullError);
    expect([q.active, q.queued]).toEqual([1, 2]);
    r1();
    r1(); // idempotent
    const r2 = await p2;
    expect([q.active, q.queued]).toEqual([1, 1]);
    r2();
    (await p3)();
    expect(order).toEqual([2, 3]);
    expect([q.active, q.queued]).toEqual([0, 0]);
  });

  it('refuses a waiter whose signal has already aborted, keeping no queue place', async () => {
    const q = new WorkQueue(1, 1);
    const release = await q.acquire(new AbortController().signal);
    const ctrl = new AbortController();
    ctrl.abort(new Error('left before asking'));
    await expect(q.acquire(ctrl.signal)).rejects.toThrow('left before asking');
    expect(q.queued).toBe(0);
    // The freed slot is not handed to the aborted waiter: the next one gets it at once.
    release();
    const next = await q.acquire(new AbortController().signal);
    expect(q.active).toBe(1);
    next();
  });

  it('stops listening to a waiter that got its slot: a later abort changes nothing', async () => {
    const q = new WorkQueue(1, 1);
    const release = await q.acquire(new AbortController().signal);
    const ctrl = new AbortController();
    const waiting = q.acquire(ctrl.signal);
    release();
    const second = await waiting;
    ctrl.abort(new Error('too late'));
    expect([q.active, q.queued]).toEqual([1, 0]);
    second();
    expect(q.active).toBe(0);
  });

  it('says why it refused: a QueueFullError with its message', () => {
    const q = new WorkQueue(0, 0);
    expect(() => q.acquire(new AbortController().signal)).toThrow(expect.objectContaining({ name: 'QueueFullError', message: 'the server is busy: every sampling slot and queue place is taken' }));
  });

  it('gives up a queue place when the waiter aborts', async () => {
    const q = new WorkQueue(1, 1);
    const release = await q.acquire(new AbortController().signal);
    const ctrl = new AbortController();
    const waiting = q.acquire(ctrl.signal);
    ctrl.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(q.queued).toBe(0);
    release();
    expect(q.active).toBe(0);
  });
});

describe('deadline', () => {
  it('fires on the client signal or the time limit, and says which', async () => {
    const client = new AbortController();
    const d1 = deadline(client.signal, 10_000);
    client.abort();
    expect([d1.signal.aborted, d1.timedOut]).toEqual([true, false]);
    d1.dispose();

    expect(d1.signal.reason).toMatchObject({ name: 'AbortError', message: 'the client disconnected' });

    const d2 = deadline(new AbortController().signal, 5);
    await new Promise((r) => d2.signal.addEventListener('abort', r));
    expect(d2.timedOut).toBe(true);
    expect(d2.signal.reason).toMatchObject({ name: 'TimeoutError', message: 'time limit of 5 ms passed' });
    d2.dispose();
  });

  it('fires at once for a client already gone, and cancel() acts as the client leaving', () => {
    const gone = new AbortController();
    gone.abort();
    const d = deadline(gone.signal, 10_000);
    expect([d.signal.aborted, d.timedOut]).toEqual([true, false]);
    d.dispose();
    const c = deadline(new AbortController().signal, 10_000);
    c.cancel();
    expect(c.signal.reason).toMatchObject({ name: 'AbortError' });
    c.dispose();
  });

  it('once disposed, neither the client nor the timer fires it', async () => {
    const client = new AbortController();
    const d = deadline(client.signal, 5);
    d.dispose();
    client.abort();
    await new Promise((r) => setTimeout(r, 20));
    expect([d.signal.aborted, d.timedOut]).toEqual([false, false]);
  });
});

describe('requireApiKey', () => {
  const app = (key: string | undefined) => new Hono().onError(onError).post('/x', requireApiKey(key), (c) => c.text('ok'));
  const call = (key: string | undefined, authorization?: string) => app(key).request('/x', { method: 'POST', headers: authorization === undefined ? {} : { authorization } });

  it('lets everything through when no key is configured', async () => {
    expect((await call(undefined)).status).toBe(200);
  });

  it('accepts exactly "Bearer <key>" (any case, any spacing around the key)', async () => {
    for (const h of ['Bearer s3cret', 'bearer s3cret', 'Bearer   s3cret  ']) expect((await call('s3cret', h)).status, h).toBe(200);
  });

  it('answers 401 with a Bearer challenge: "needs an API key" without one, "invalid" for a wrong one; 400 for a malformed one (RFC 6750 §3.1)', async () => {
    const none = await call('s3cret');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="medsynth"');
    expect(((await none.json()) as any).error.message).toBe('sampling needs an API key: send "Authorization: Bearer <key>"');
    for (const h of ['Bearer wrong', 'Bearer s3cre', 'Bearer s3cret2']) {
      const r = await call('s3cret', h);
      expect(r.status, h).toBe(401);
      expect(((await r.json()) as any).error.message, h).toBe('invalid API key');
    }
    // Not the scheme's shape at all: an invalid request, not a wrong key.
    for (const h of ['s3cret', 'Basic s3cret', 'Bearers3cret', 'xBearer s3cret', 'Bearer s3 cret']) {
      const r = await call('s3cret', h);
      expect([r.status, r.headers.get('www-authenticate')], h).toEqual([400, 'Bearer error="invalid_request"']);
      expect(((await r.json()) as any).error.message, h).toBe('malformed Authorization header: expected "Bearer <key>"');
    }
  });
});
