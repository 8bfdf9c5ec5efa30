// Server settings without code: each config field (worker/config.ts) with
// the `medsynth serve` flag and the environment variable that set it. The
// Workers entry reads the same names from wrangler.toml [vars] and secrets.
// The README's settings table is this table (a test compares them).
import { z } from 'zod';
import { ConfigError } from '../shared/config.ts';
import { BadInputError } from '../shared/errors.ts';
import { ServerConfigSchema, type ServerConfigInput } from './config.ts';

export interface ServerSetting {
  /** The config field, dotted for nested ones ("rateLimit.requests"). */
  field: string;
  /** The `medsynth serve` flag, without "--"; none for secrets (argv is visible to `ps`). */
  flag?: string;
  env: string;
  /** 'list': comma-separated strings. */
  kind: 'integer' | 'string' | 'list';
}

export const SERVER_SETTINGS: readonly ServerSetting[] = [
  { field: 'apiKey', env: 'MEDSYNTH_API_KEY', kind: 'list' },
  { field: 'corsOrigin', flag: 'cors-origin', env: 'MEDSYNTH_CORS_ORIGIN', kind: 'string' },
  { field: 'bodyLimitBytes', flag: 'body-limit', env: 'MEDSYNTH_BODY_LIMIT', kind: 'integer' },
  { field: 'rateLimit.requests', flag: 'rate-requests', env: 'MEDSYNTH_RATE_REQUESTS', kind: 'integer' },
  { field: 'rateLimit.windowMs', flag: 'rate-window-ms', env: 'MEDSYNTH_RATE_WINDOW_MS', kind: 'integer' },
  { field: 'rateLimit.maxClients', flag: 'rate-clients', env: 'MEDSYNTH_RATE_CLIENTS', kind: 'integer' },
  { field: 'maxConcurrent', flag: 'max-concurrent', env: 'MEDSYNTH_MAX_CONCURRENT', kind: 'integer' },
  { field: 'maxQueued', flag: 'max-queued', env: 'MEDSYNTH_MAX_QUEUED', kind: 'integer' },
  { field: 'retryAfterSeconds', flag: 'retry-after', env: 'MEDSYNTH_RETRY_AFTER', kind: 'integer' },
  { field: 'timeoutMs', flag: 'timeout-ms', env: 'MEDSYNTH_TIMEOUT_MS', kind: 'integer' },
  { field: 'maxCount', flag: 'max-count', env: 'MEDSYNTH_MAX_COUNT', kind: 'integer' },
  { field: 'maxSteps', flag: 'max-steps', env: 'MEDSYNTH_MAX_STEPS', kind: 'integer' },
];

/** Where settings come from: flags win over the environment; an empty variable is unset (wrangler.toml's ""). */
export interface SettingSources {
  flags?: Readonly<Record<string, string | boolean | undefined>>;
  /** process.env, or a Worker's bindings (a [vars] number arrives as a number). */
  env?: Readonly<Record<string, unknown>>;
}

/** The flags, for node:util parseArgs. */
export const SETTING_FLAGS: Record<string, { type: 'string' }> = Object.fromEntries(
  SERVER_SETTINGS.flatMap((s) => (s.flag ? [[s.flag, { type: 'string' as const }]] : [])),
);

function sourceOf(s: ServerSetting, { flags = {}, env = {} }: SettingSources): { name: string; text: string } | undefined {
  const flag = s.flag === undefined ? undefined : flags[s.flag];
  if (typeof flag === 'string') return { name: `--${s.flag}`, text: flag };
  const v = env[s.env];
  if ((typeof v === 'string' && v !== '') || typeof v === 'number') return { name: s.env, text: String(v) };
  return undefined;
}

/** One item as itself, several as an array ("a,b" -> ["a", "b"]). */
function listValue(text: string): string | string[] {
  const items = text.split(',').map((t) => t.trim());
  return items.length === 1 ? items[0] : items;
}

/**
 * The config input the flags and environment ask for; unset settings are left
 * out, so the config's defaults (or the caller's) apply. Validates it whole and
 * throws a BadInputError naming the flag or variable at fault.
 */
export function serverConfigFrom(sources: SettingSources): ServerConfigInput {
  const raw: Record<string, unknown> = {};
  const names = new Map<string, string>();
  for (const s of SERVER_SETTINGS) {
    const src = sourceOf(s, sources);
    if (!src) continue;
    if (s.kind === 'integer' && !/^\d{1,15}$/.test(src.text)) throw new BadInputError(`${src.name} must be a non-negative integer, got "${src.text}"`);
    const [head, leaf] = s.field.split('.');
    const value = s.kind === 'integer' ? Number(src.text) : s.kind === 'list' ? listValue(src.text) : src.text;
    if (leaf === undefined) raw[head] = value;
    else ((raw[head] ??= {}) as Record<string, unknown>)[leaf] = value;
    names.set(s.field, src.name);
  }
  const r = ServerConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.filter((p) => typeof p === 'string').join('.'); // a list item's index stays out
    throw new BadInputError(`${names.get(field) ?? field}: ${issue.message}`, { cause: new ConfigError(field, issue.message) });
  }
  return raw as ServerConfigInput;
}

/** Each setting with its description and default, from the config schema: the README's table. */
export function settingsTable(): { setting: ServerSetting; default?: unknown; description: string }[] {
  const json = z.toJSONSchema(ServerConfigSchema, { io: 'input' }) as { properties: Record<string, JsonProperty> };
  return SERVER_SETTINGS.map((setting) => {
    const [head, leaf] = setting.field.split('.');
    const p = leaf === undefined ? json.properties[head] : json.properties[head].properties![leaf];
    return { setting, default: p.default, description: p.description ?? '' };
  });
}

interface JsonProperty {
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonProperty>;
}
