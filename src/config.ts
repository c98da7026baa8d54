import { z } from 'zod';
import { ConfigError } from './errors.js';
import { registerSecret, redact } from './redact.js';
import { DEFAULT_OUTAGE_LIMIT, SETTINGS, type SettingName, type SettingSpec } from './settings.js';

export { SETTINGS, type SettingName, type SettingSpec } from './settings.js';

export interface RawSetting {
  value: string;
  /** the flag or variable it came from, for error messages */
  source: string;
}

/** Finds a setting's raw value and where it came from; registers secrets for redaction. */
export function rawSetting(name: SettingName, flags: object = {}, env: NodeJS.ProcessEnv = process.env): RawSetting | undefined {
  const spec: SettingSpec = SETTINGS[name];
  const flagValue = spec.flag ? (flags as Record<string, unknown>)[flagKey(spec.flag)] : undefined;
  let found: RawSetting | undefined;
  if (typeof flagValue === 'string' && flagValue !== '') found = { value: flagValue, source: spec.flag ?? name };
  else {
    for (const variable of spec.env) {
      const value = env[variable];
      if (value !== undefined && value.trim() !== '') {
        found = { value: value.trim(), source: variable };
        break;
      }
    }
  }
  if (found && (spec.secret || name === 'databaseUrl')) {
    if (spec.secret) for (const part of found.value.split(',')) registerSecret(part.trim());
    registerDatabasePassword(found.value);
  }
  return found;
}

/** commander's key for a flag: --database-url → databaseUrl */
function flagKey(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function registerDatabasePassword(url: string): void {
  try {
    const parsed = new URL(url);
    if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  } catch {
    // not a URL; validation reports it
  }
}

export function howToSet(name: SettingName): string {
  const spec: SettingSpec = SETTINGS[name];
  const [primary, ...aliases] = spec.env;
  const parts = [spec.flag ? `pass ${spec.flag}` : undefined, `set ${primary}`].filter(Boolean);
  const alias = aliases.length ? ` (alias ${aliases.join(', ')})` : '';
  return `${parts.join(' or ')}${alias}`;
}

function invalid(name: SettingName, source: string, problem: string): ConfigError {
  return new ConfigError(source, `${source} is invalid: ${redact(problem)}`, {
    hint: `${SETTINGS[name].description}. To fix it, ${howToSet(name)}.`,
  });
}

function missing(name: SettingName, extraHint?: string): ConfigError {
  const spec: SettingSpec = SETTINGS[name];
  return new ConfigError(spec.env[0], `${spec.env[0]} is not set: ${spec.description}.`, {
    hint: `${howToSet(name)}.${extraHint ? ` ${extraHint}` : ''}`,
  });
}

const LOCAL_STACK_HINT = 'For a local stack run `paymentsctl stack up` and export the lines it prints.';

const postgresUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'expected a URL like postgres://USER@HOST:5432/DATABASE');

export function validateDatabaseUrl(value: string, source = 'DATABASE_URL'): string {
  const result = postgresUrl.safeParse(value);
  if (!result.success) throw invalid('databaseUrl', source, `${redact(value)} — ${result.error.issues[0]?.message}`);
  return value;
}

export function databaseUrl(flags?: object, env?: NodeJS.ProcessEnv): string {
  const raw = rawSetting('databaseUrl', flags, env);
  if (!raw) throw missing('databaseUrl', LOCAL_STACK_HINT);
  return validateDatabaseUrl(raw.value, raw.source);
}

const BROKER = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

export function kafkaBrokers(flags?: object, env?: NodeJS.ProcessEnv): string[] {
  const raw = rawSetting('kafkaBrokers', flags, env);
  if (!raw) throw missing('kafkaBrokers', LOCAL_STACK_HINT);
  const brokers = raw.value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const bad = brokers.find((b) => !BROKER.test(b) || Number(b.slice(b.lastIndexOf(':') + 1)) > 65535);
  if (brokers.length === 0 || bad !== undefined) {
    throw invalid('kafkaBrokers', raw.source, `"${bad ?? raw.value}" is not host:port (expected e.g. 127.0.0.1:9092,10.0.0.2:9092)`);
  }
  return brokers;
}

const TOPIC_PREFIX = /^[A-Za-z0-9._-]{0,100}$/;

export function topicPrefix(flags?: object, env?: NodeJS.ProcessEnv): string {
  const raw = rawSetting('topicPrefix', flags, env);
  if (!raw) return '';
  if (!TOPIC_PREFIX.test(raw.value)) {
    throw invalid('topicPrefix', raw.source, `"${raw.value}" may only contain letters, digits, '.', '_' and '-'`);
  }
  return raw.value;
}

export function stripeApiKey(flags?: object, env?: NodeJS.ProcessEnv): string {
  const raw = rawSetting('stripeApiKey', flags, env);
  if (!raw) throw missing('stripeApiKey');
  if (!/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/.test(raw.value)) {
    // Never echo the value: it may be a real key pasted into the wrong variable.
    throw invalid('stripeApiKey', raw.source, 'expected a Stripe secret key starting with sk_test_, sk_live_, rk_test_ or rk_live_');
  }
  return raw.value;
}

export function stripeApiBase(flags?: object, env?: NodeJS.ProcessEnv): string | undefined {
  const raw = rawSetting('stripeApiBase', flags, env);
  if (!raw) return undefined;
  try {
    const url = new URL(raw.value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    return raw.value.replace(/\/+$/, '');
  } catch {
    throw invalid('stripeApiBase', raw.source, `"${raw.value}" is not an http(s) URL`);
  }
}

/** Empty list when unset: the webhook receiver then answers 503 rather than accept unsigned events. */
export function webhookSecrets(flags?: object, env?: NodeJS.ProcessEnv): string[] {
  const raw = rawSetting('webhookSecrets', flags, env);
  if (!raw) return [];
  return raw.value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** How long PostgreSQL or Kafka may stay unreachable before a role gives up (ms); at least 1 s. */
export function outageLimitMs(flags?: object, env?: NodeJS.ProcessEnv): number {
  const raw = rawSetting('outageLimit', flags, env);
  return durationMs(raw?.value ?? DEFAULT_OUTAGE_LIMIT, raw?.source ?? 'OUTAGE_LIMIT', { min: 1_000 });
}

/** Parses a positive integer flag, naming the flag when it is wrong. */
export function positiveInt(value: string, flag: string, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(flag, `${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** A TCP port to listen on; 0 lets the system pick a free one. */
export function listenPort(value: string, flag: string): number {
  return positiveInt(value, flag, { min: 0, max: 65535 });
}

/** Parses durations such as 500ms, 30s, 15m, 24h, 7d, or a bare 0; `min` (ms) bounds it below. */
export function durationMs(value: string, flag: string, { min = 0 } = {}): number {
  let ms = 0;
  if (value.trim() !== '0') {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
    if (!match) throw new ConfigError(flag, `${flag} must be a duration like 500ms, 30s, 15m, 24h or 7d, got "${value}"`);
    ms = Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  }
  if (ms < min) throw new ConfigError(flag, `${flag} must be at least ${min}ms, got "${value}"`);
  return ms;
}

/** Parses a share from 0 to 1, e.g. a fault rate. */
export function fraction(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new ConfigError(flag, `${flag} must be a number from 0 to 1, got "${value}"`);
  return n;
}
