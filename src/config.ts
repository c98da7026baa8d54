import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import {
  SASL_MECHANISMS,
  SECURITY_PROTOCOLS,
  type KafkaSasl,
  type KafkaSecurity,
  type SaslMechanism,
  type SecurityProtocol,
} from './kafka/security.js';
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
  const problem = sslProblem(new URL(value));
  if (problem) throw invalid('databaseUrl', source, `${redact(value)} — ${problem}`);
  return value;
}

/** What is wrong with a URL's sslmode and certificate files, in words an operator acts on. */
function sslProblem(url: URL): string | undefined {
  const mode = url.searchParams.get('sslmode');
  if (mode !== null && !(SSL_MODES as readonly string[]).includes(mode)) {
    return mode === 'prefer' || mode === 'allow'
      ? `sslmode=${mode} is not supported: this client cannot fall back between TLS and plain TCP; use require, verify-ca or verify-full (or disable)`
      : `sslmode=${mode} is not one of ${SSL_MODES.join(', ')}`;
  }
  for (const param of ['sslrootcert', 'sslcert', 'sslkey']) {
    const file = url.searchParams.get(param);
    if (file === null) continue;
    if (mode === null || mode === 'disable')
      return `${param} is given but sslmode is ${mode ?? 'not set'}; add sslmode=verify-full (or require, verify-ca)`;
    try {
      readFileSync(file);
    } catch (error) {
      return `cannot read ${param}=${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
    }
  }
  if (mode === 'verify-ca' && url.searchParams.get('sslrootcert') === null) {
    return `sslmode=verify-ca needs the CA: set DATABASE_SSL_CA_FILE or add sslrootcert=FILE`;
  }
  return undefined;
}

export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * DATABASE_SSL_CA_FILE (or --database-ssl-ca-file) written into `url` as libpq's sslrootcert, so every
 * pool and client made from the URL — also a tenant's or a per-test database's — trusts that CA.
 * A URL that names its own sslrootcert keeps it.
 */
export function withDatabaseCa(url: string, flags?: object, env?: NodeJS.ProcessEnv): string {
  const raw = rawSetting('databaseSslCaFile', flags, env);
  if (!raw) return url;
  const parsed = new URL(url);
  if (parsed.searchParams.get('sslrootcert') !== null) return url;
  const mode = parsed.searchParams.get('sslmode');
  if (mode === null || mode === 'disable') {
    throw new ConfigError(raw.source, `${raw.source} is set but the database URL has ${mode === null ? 'no sslmode' : 'sslmode=disable'}`, {
      hint: 'add ?sslmode=verify-full to DATABASE_URL (or verify-ca, require) to connect over TLS with that CA, or unset it.',
    });
  }
  try {
    readFileSync(raw.value);
  } catch (error) {
    throw invalid(
      'databaseSslCaFile',
      raw.source,
      `cannot read ${raw.value}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  parsed.searchParams.set('sslrootcert', raw.value);
  return parsed.toString();
}

export function databaseUrl(flags?: object, env?: NodeJS.ProcessEnv): string {
  const raw = rawSetting('databaseUrl', flags, env);
  if (!raw) throw missing('databaseUrl', LOCAL_STACK_HINT);
  const shape = postgresUrl.safeParse(raw.value);
  if (!shape.success) throw invalid('databaseUrl', raw.source, `${redact(raw.value)} — ${shape.error.issues[0]?.message}`);
  // The CA setting first: verify-ca is complete once it is in the URL.
  return validateDatabaseUrl(withDatabaseCa(raw.value, flags, env), raw.source);
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

function names(...settings: SettingName[]): string {
  return settings.map((name) => SETTINGS[name].env[0]).join(', ');
}

/** A PEM file named by a setting, read now so a wrong path fails at start, naming the setting. */
function pemFile(name: SettingName, raw: RawSetting, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  let text: string;
  try {
    text = readFileSync(raw.value, 'utf8');
  } catch (error) {
    throw invalid(name, raw.source, `cannot read ${raw.value}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!new RegExp(`-----BEGIN [A-Z ]*${kind}-----`).test(text)) {
    throw invalid(name, raw.source, `${raw.value} holds no PEM ${kind.toLowerCase()} (expected a -----BEGIN … ${kind}----- block)`);
  }
  return text;
}

function booleanSetting(name: SettingName, flags: object | undefined, env: NodeJS.ProcessEnv | undefined, fallback: boolean): boolean {
  const raw = rawSetting(name, flags, env);
  if (!raw) return fallback;
  const value = raw.value.toLowerCase();
  if (['true', '1', 'yes'].includes(value)) return true;
  if (['false', '0', 'no'].includes(value)) return false;
  throw invalid(name, raw.source, `"${raw.value}" is not true or false`);
}

function oauthExtensions(raw: RawSetting | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  const extensions: Record<string, string> = {};
  for (const pair of raw.value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z]+)=([\x21-\x7e]+)$/.exec(pair);
    // RFC 7628: keys are letters only, and "auth" is reserved.
    if (!match || match[1] === 'auth') {
      throw invalid('kafkaOauthExtensions', raw.source, `"${pair}" is not key=value (letters-only key other than auth, printable value)`);
    }
    extensions[match[1] as string] = match[2] as string;
  }
  return extensions;
}

/**
 * KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings that go with it, checked together. kafkajs sends
 * SASL credentials over plain TCP whenever `ssl` is left out; here SASL without TLS needs an explicit
 * SASL_PLAINTEXT, and a setting that the chosen protocol would ignore is an error, not a surprise.
 */
export function kafkaSecurity(flags?: object, env?: NodeJS.ProcessEnv): KafkaSecurity {
  const get = (name: SettingName) => rawSetting(name, flags, env);
  const protocolRaw = get('kafkaSecurityProtocol');
  const saslGiven = (['kafkaSaslMechanism', 'kafkaSaslUsername', 'kafkaSaslPassword', 'kafkaOauthTokenFile'] as const).filter((n) =>
    get(n),
  );
  const tlsGiven = (['kafkaSslCaFile', 'kafkaSslCertFile', 'kafkaSslKeyFile', 'kafkaSslRejectUnauthorized'] as const).filter((n) => get(n));
  if (!protocolRaw) {
    if (saslGiven.length || tlsGiven.length) {
      const wanted = saslGiven.length ? 'SASL_SSL (or SASL_PLAINTEXT to send the password unencrypted)' : 'SSL or SASL_SSL';
      throw new ConfigError('KAFKA_SECURITY_PROTOCOL', `${names(...saslGiven, ...tlsGiven)} set but KAFKA_SECURITY_PROTOCOL is not`, {
        hint: `set KAFKA_SECURITY_PROTOCOL=${wanted}; without it the connection would be PLAINTEXT and those settings ignored.`,
      });
    }
    return { protocol: 'PLAINTEXT' };
  }
  const protocol = protocolRaw.value.toUpperCase() as SecurityProtocol;
  if (!SECURITY_PROTOCOLS.includes(protocol)) {
    throw invalid('kafkaSecurityProtocol', protocolRaw.source, `"${protocolRaw.value}" is not one of ${SECURITY_PROTOCOLS.join(', ')}`);
  }
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_SSL' || protocol === 'SASL_PLAINTEXT';
  if (!usesSasl && saslGiven.length) {
    throw new ConfigError(protocolRaw.source, `${names(...saslGiven)} set but ${protocolRaw.source} is ${protocol}, which uses no SASL`, {
      hint: `set ${protocolRaw.source}=${usesTls ? 'SASL_SSL' : 'SASL_SSL (or SASL_PLAINTEXT)'}, or unset the SASL settings.`,
    });
  }
  if (!usesTls && tlsGiven.length) {
    throw new ConfigError(protocolRaw.source, `${names(...tlsGiven)} set but ${protocolRaw.source} is ${protocol}, which uses no TLS`, {
      hint: `set ${protocolRaw.source}=${usesSasl ? 'SASL_SSL' : 'SSL'}, or unset the TLS settings.`,
    });
  }
  const security: KafkaSecurity = { protocol };
  if (usesTls) {
    const ca = get('kafkaSslCaFile');
    const cert = get('kafkaSslCertFile');
    const key = get('kafkaSslKeyFile');
    if (Boolean(cert) !== Boolean(key)) {
      const [given, absent] = cert
        ? (['kafkaSslCertFile', 'kafkaSslKeyFile'] as const)
        : (['kafkaSslKeyFile', 'kafkaSslCertFile'] as const);
      throw missingWith(absent, `${SETTINGS[given].env[0]} is set: mutual TLS needs both the certificate and its key.`);
    }
    security.tls = {
      rejectUnauthorized: booleanSetting('kafkaSslRejectUnauthorized', flags, env, true),
      ...(ca ? { ca: pemFile('kafkaSslCaFile', ca, 'CERTIFICATE') } : {}),
      ...(cert ? { cert: pemFile('kafkaSslCertFile', cert, 'CERTIFICATE') } : {}),
      ...(key ? { key: pemFile('kafkaSslKeyFile', key, 'PRIVATE KEY') } : {}),
    };
  }
  if (usesSasl) security.sasl = kafkaSasl(protocol, flags, env);
  return security;
}

function kafkaSasl(protocol: SecurityProtocol, flags?: object, env?: NodeJS.ProcessEnv): KafkaSasl {
  const mechanismRaw = rawSetting('kafkaSaslMechanism', flags, env);
  if (!mechanismRaw) throw missingWith('kafkaSaslMechanism', `KAFKA_SECURITY_PROTOCOL is ${protocol}.`);
  const mechanism = mechanismRaw.value.toUpperCase() as SaslMechanism;
  if (!SASL_MECHANISMS.includes(mechanism)) {
    throw invalid('kafkaSaslMechanism', mechanismRaw.source, `"${mechanismRaw.value}" is not one of ${SASL_MECHANISMS.join(', ')}`);
  }
  const username = rawSetting('kafkaSaslUsername', flags, env);
  const password = rawSetting('kafkaSaslPassword', flags, env);
  const tokenFile = rawSetting('kafkaOauthTokenFile', flags, env);
  if (mechanism === 'OAUTHBEARER') {
    if (username || password) {
      throw new ConfigError(mechanismRaw.source, `${names('kafkaSaslUsername', 'kafkaSaslPassword')} do not apply to OAUTHBEARER`, {
        hint: 'OAUTHBEARER authenticates with the token in KAFKA_OAUTH_TOKEN_FILE; unset the user name and password.',
      });
    }
    if (!tokenFile) throw missingWith('kafkaOauthTokenFile', 'KAFKA_SASL_MECHANISM is OAUTHBEARER.');
    const extensions = oauthExtensions(rawSetting('kafkaOauthExtensions', flags, env));
    return { mechanism, tokenFile: tokenFile.value, ...(extensions ? { extensions } : {}) };
  }
  if (tokenFile) {
    throw new ConfigError(tokenFile.source, `${tokenFile.source} applies only to KAFKA_SASL_MECHANISM=OAUTHBEARER, not ${mechanism}`);
  }
  if (!username) throw missingWith('kafkaSaslUsername', `KAFKA_SASL_MECHANISM is ${mechanism}.`);
  if (!password) throw missingWith('kafkaSaslPassword', `KAFKA_SASL_MECHANISM is ${mechanism}.`);
  return { mechanism, username: username.value, password: password.value };
}

function missingWith(name: SettingName, why: string): ConfigError {
  const spec: SettingSpec = SETTINGS[name];
  return new ConfigError(spec.env[0], `${spec.env[0]} is not set: ${spec.description}.`, { hint: `${why} ${howToSet(name)}.` });
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

/** --wait-for-migrations / --allow-newer-schema for the databases a role uses. */
export function schemaGateSettings(flags: { waitForMigrations: string; allowNewerSchema?: boolean }, databaseUrls: string[]) {
  return {
    databaseUrls,
    waitMs: durationMs(flags.waitForMigrations, '--wait-for-migrations'),
    allowNewer: flags.allowNewerSchema === true,
  };
}
