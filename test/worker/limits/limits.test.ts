import { describe, expect, it } from 'vitest';
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

    const d2 = deadline(new AbortController().signal, 5);
    await new Promise((r) => d2.signal.addEventListener('abort', r));
    expect(d2.timedOut).toBe(true);
    expect((d2.signal.reason as DOMException).name).toBe('TimeoutError');
    d2.dispose();
  });
});
