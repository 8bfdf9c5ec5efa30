import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../../shared/errors.ts';
import { parseServerConfig, ServerConfigSchema } from '../../worker/config.ts';
import { SERVER_SETTINGS, serverConfigFrom, settingsTable } from '../../worker/settings.ts';

/** Every leaf field of the config schema, dotted. */
function leafFields(): string[] {
  const json = z.toJSONSchema(ServerConfigSchema, { io: 'input' }) as { properties: Record<string, { properties?: Record<string, unknown> }> };
  return Object.entries(json.properties).flatMap(([k, p]) => (p.properties ? Object.keys(p.properties).map((l) => `${k}.${l}`) : [k]));
}

describe('server settings', () => {
  it('cover every config field once, with distinct flags and variables', () => {
    expect(SERVER_SETTINGS.map((s) => s.field).sort()).toEqual(leafFields().sort());
    const flags = SERVER_SETTINGS.flatMap((s) => (s.flag ? [s.flag] : []));
    expect(new Set(flags).size).toBe(flags.length);
    expect(new Set(SERVER_SETTINGS.map((s) => s.env)).size).toBe(SERVER_SETTINGS.length);
    // The key is a secret: no flag (argv is visible to other users through ps).
    expect(SERVER_SETTINGS.find((s) => s.field === 'apiKey')?.flag).toBeUndefined();
  });

  it('read flags over variables, leave unset ones to the defaults, take numbers from Worker vars', () => {
    const raw = serverConfigFrom({
      flags: { 'max-steps': '20', 'cors-origin': 'https://a.example' },
      env: { MEDSYNTH_MAX_STEPS: '30', MEDSYNTH_RATE_REQUESTS: '5', MEDSYNTH_MAX_COUNT: 4, MEDSYNTH_TIMEOUT_MS: '', OTHER: 'x' },
    });
    expect(raw).toEqual({ maxSteps: 20, corsOrigin: 'https://a.example', rateLimit: { requests: 5 }, maxCount: 4 });
    expect(parseServerConfig(raw)).toMatchObject({ maxSteps: 20, maxCount: 4, timeoutMs: 120_000, rateLimit: { requests: 5, windowMs: 60_000 } });
    expect(serverConfigFrom({})).toEqual({});
    // Several keys, accepted alike while clients move from the old to the new.
    const [a, b] = ['a'.repeat(16), 'b'.repeat(16)];
    expect(serverConfigFrom({ env: { MEDSYNTH_API_KEY: `${a}, ${b}` } })).toEqual({ apiKey: [a, b] });
    expect(serverConfigFrom({ env: { MEDSYNTH_API_KEY: a } })).toEqual({ apiKey: a });
  });

  it('name the flag or variable at fault, as bad input', () => {
    const fails = (sources: Parameters<typeof serverConfigFrom>[0]) => {
      try {
        serverConfigFrom(sources);
      } catch (e) {
        expect(e).toBeInstanceOf(BadInputError);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(fails({ env: { MEDSYNTH_MAX_COUNT: '17' } })).toBe('MEDSYNTH_MAX_COUNT: Too big: expected number to be <=16');
    expect(fails({ flags: { 'rate-window-ms': '0' } })).toBe('--rate-window-ms: Too small: expected number to be >0');
    expect(fails({ env: { MEDSYNTH_API_KEY: 'short' } })).toBe('MEDSYNTH_API_KEY: must be at least 16 characters');
    expect(fails({ env: { MEDSYNTH_API_KEY: `${'a'.repeat(16)},short` } })).toBe('MEDSYNTH_API_KEY: must be at least 16 characters');
    expect(fails({ flags: { 'max-steps': '1e3' } })).toBe('--max-steps must be a non-negative integer, got "1e3"');
    expect(fails({ env: { MEDSYNTH_MAX_QUEUED: '-1' } })).toBe('MEDSYNTH_MAX_QUEUED must be a non-negative integer, got "-1"');
    // Digits beyond what a double holds exactly are refused before Number() rounds them.
    expect(fails({ env: { MEDSYNTH_MAX_STEPS: '9'.repeat(40) } })).toMatch(/^MEDSYNTH_MAX_STEPS must be a non-negative integer/);
  });

  it("are the README's settings table, row for row", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Server settings'));
    const rows = section.split('\n').filter((l) => l.startsWith('| `')).slice(0, SERVER_SETTINGS.length);
    const expected = settingsTable().map(
      (r) => `| \`${r.setting.field}\` | ${r.setting.flag ? `\`--${r.setting.flag}\`` : '(none)'} | \`${r.setting.env}\` | ${r.default === undefined ? '(unset)' : `\`${r.default}\``} | ${r.description} |`,
    );
    expect(rows).toEqual(expected);
    expect(expected.every((row) => !row.endsWith('|  |'))).toBe(true); // every field is described
  });
});
