import { describe, expect, it } from 'vitest';
import {
  databaseUrl,
  durationMs,
  kafkaBrokers,
  positiveInt,
  stripeApiBase,
  stripeApiKey,
  topicPrefix,
  webhookSecrets,
} from '../../src/config.js';
import { ConfigError, ExitCode, exitCodeFor } from '../../src/errors.js';
import * as emulatorKey from '../../src/stack/stripe-emulator.js';
import { redact } from '../../src/redact.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('takes the flag over the environment, and the primary variable over its alias', () => {
    const env = { DATABASE_URL: 'postgres://a@h1/db1', DB_DSN: 'postgres://b@h2/db2' };
    expect(databaseUrl({ databaseUrl: 'postgres://c@h3/db3' }, env)).toBe('postgres://c@h3/db3');
    expect(databaseUrl({}, env)).toBe('postgres://a@h1/db1');
    expect(databaseUrl({}, { DB_DSN: 'postgres://b@h2/db2' })).toBe('postgres://b@h2/db2');
    expect(stripeApiKey({}, { STRIPE_KEY: 'sk_test_alias123' })).toBe('sk_test_alias123');
    // The key `stack up` prints for its emulator is accepted by the roles it starts.
    const { EMULATOR_API_KEY } = emulatorKey;
    expect(stripeApiKey({}, { STRIPE_API_KEY: EMULATOR_API_KEY })).toBe(EMULATOR_API_KEY);
    expect(webhookSecrets({}, { STRIPE_WEBHOOK_KEY: 'whsec_old1, whsec_new2' })).toEqual(['whsec_old1', 'whsec_new2']);
    expect(kafkaBrokers({ brokers: '10.0.0.1:9092' }, { KAFKA_BROKERS: '127.0.0.1:9092' })).toEqual(['10.0.0.1:9092']);
  });

  it('names the missing setting and how to set it', () => {
    const error = configError(() => databaseUrl({}, {}));
    expect(error.setting).toBe('DATABASE_URL');
    expect(error.message).toContain('DATABASE_URL is not set');
    expect(error.hint).toContain('--database-url');
    expect(error.hint).toContain('DB_DSN');
    expect(exitCodeFor(error)).toBe(ExitCode.usage);
    expect(configError(() => kafkaBrokers({}, {})).setting).toBe('KAFKA_BROKERS');
  });

  it('rejects invalid values, naming where they came from', () => {
    expect(configError(() => databaseUrl({}, { DB_DSN: 'mysql://x@h/db' })).message).toMatch(/^DB_DSN is invalid/);
    expect(configError(() => kafkaBrokers({}, { KAFKA_BROKERS: '127.0.0.1' })).message).toMatch(/KAFKA_BROKERS is invalid: "127.0.0.1"/);
    expect(configError(() => kafkaBrokers({}, { KAFKA_BROKERS: 'h:99999' })).setting).toBe('KAFKA_BROKERS');
    expect(configError(() => stripeApiBase({}, { STRIPE_API_BASE: 'ftp://x' })).setting).toBe('STRIPE_API_BASE');
    expect(configError(() => topicPrefix({ topicPrefix: 'bad prefix' }, {})).setting).toBe('--topic-prefix');
    expect(configError(() => positiveInt('0', '--partitions')).message).toContain('--partitions');
    expect(configError(() => durationMs('10 minutes', '--retain')).setting).toBe('--retain');
    expect(durationMs('24h', '--retain')).toBe(86_400_000);
    expect(stripeApiBase({}, { STRIPE_API_BASE: 'http://127.0.0.1:12111/' })).toBe('http://127.0.0.1:12111');
  });

  it('never echoes a secret in an error about it', () => {
    const key = 'pk_live_notasecretkeybutclose42';
    const error = configError(() => stripeApiKey({}, { STRIPE_API_KEY: key }));
    expect(error.setting).toBe('STRIPE_API_KEY');
    expect(`${error.message} ${error.hint}`).not.toContain(key);

    const dsn = 'notaurl://user:hunter2hunter2@db';
    const dsnError = configError(() => databaseUrl({}, { DATABASE_URL: dsn }));
    expect(`${dsnError.message} ${dsnError.hint}`).not.toContain('hunter2hunter2');
  });
});

describe('redact', () => {
  it('masks URL passwords, Stripe keys, webhook secrets and registered secret values', () => {
    const text = redact('postgres://app:s3cr3t-pw@db:5432/x sk_live_51HxYz whsec_abcDEF123 postgresql://u:p%40ss@h/db?password=topsecret');
    expect(text).not.toMatch(/s3cr3t-pw|51HxYz|abcDEF123|p%40ss|topsecret/);
    expect(text).toContain('postgres://app:***@db:5432/x');

    // A secret in an unusual format is caught once configuration has read it.
    expect(webhookSecrets({}, { STRIPE_WEBHOOK_SECRET: 'plain-rotation-secret-1,plain-rotation-secret-2' })).toHaveLength(2);
    expect(redact('got plain-rotation-secret-2 in a header')).toBe('got *** in a header');
  });
});
