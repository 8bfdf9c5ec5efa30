import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../worker/config.ts';

describe('server config', () => {
  it('fills every default', () => {
    expect(parseServerConfig()).toEqual({
      corsOrigin: '*',
      bodyLimitBytes: 16 * 1024,
      rateLimit: { requests: 30, windowMs: 60_000, maxClients: 10_000 },
      maxConcurrent: 1,
      maxQueued: 8,
      retryAfterSeconds: 5,
      timeoutMs: 120_000,
      maxCount: 16,
      maxSteps: 250,
    });
    expect(parseServerConfig({ rateLimit: { requests: 5 } }).rateLimit).toEqual({ requests: 5, windowMs: 60_000, maxClients: 10_000 });
  });

  it('names the bad field', () => {
    expect(() => parseServerConfig({ maxConcurrent: 0 })).toThrow(/^invalid server config at maxConcurrent: /);
    expect(() => parseServerConfig({ rateLimit: { windowMs: -1 } })).toThrow(/at rateLimit\.windowMs: /);
    expect(() => parseServerConfig({ maxCount: 17 })).toThrow(/at maxCount: /);
    expect(() => parseServerConfig({ timeout: 5 } as never)).toThrow(/Unrecognized key/);
  });
});
