import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import { UnavailableError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { redact } from '../redact.js';
import { kafkajsSecurity, PLAINTEXT, type KafkaSecurity } from './security.js';

export interface KafkaClientOptions {
  brokers: string[];
  clientId?: string;
  log?: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** retries of kafkajs' own retrier for each request */
  retries?: number;
  /** TLS and SASL (config.ts `kafkaSecurity`); default PLAINTEXT */
  security?: KafkaSecurity;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/**
 * The one way to build a kafkajs client: every role, command and test goes through it, so TLS and
 * SASL apply everywhere alike. Its log lines go through our logger (JSON, redacted).
 */
export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.log;
  const config: KafkaConfig = {
    clientId: options.clientId ?? 'paymentsctl',
    brokers: options.brokers,
    ...kafkajsSecurity(options.security ?? PLAINTEXT),
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 30000,
    retry: { retries: options.retries ?? 5 },
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!log) return;
      const { message, ...fields } = entry.log;
      // kafkajs logs every error response at ERROR, even those it retries (a coordinator still
      // loading, a leader moving); what callers give up on, they log themselves.
      let level =
        (entry.namespace === 'Connection' || entry.namespace === 'BrokerPool') && entry.level === KafkaLogLevel.ERROR
          ? 'warn'
          : (LEVELS[entry.level] ?? 'info');
      // Our idempotent producers bound their retries on purpose (see outbox/kafka-sink.ts).
      if (message.startsWith('Limiting retries for the idempotent producer')) level = 'debug';
      log[level]({ kafka: entry.namespace, ...fields }, message);
    },
  };
  return new Kafka(config);
}

/** What was wrong, for an error a client could not get past: which setting to check, never a secret. */
export function kafkaConnectError(error: unknown, brokers: readonly string[], security: KafkaSecurity = PLAINTEXT): UnavailableError {
  const message = redact(errorMessage(error));
  const where = brokers.join(',');
  if (isSaslAuthenticationError(error)) {
    const sasl = security.sasl;
    const check =
      sasl?.mechanism === 'OAUTHBEARER'
        ? 'the token in KAFKA_OAUTH_TOKEN_FILE (and KAFKA_OAUTH_EXTENSIONS)'
        : `KAFKA_SASL_PASSWORD and KAFKA_SASL_USERNAME${sasl ? ` (user "${sasl.username}")` : ''}`;
    return new UnavailableError(`Kafka at ${where} rejected the ${sasl?.mechanism ?? 'SASL'} credentials: check ${check}`, {
      hint: `the broker said: ${message}. Check that KAFKA_SASL_MECHANISM matches a mechanism the broker enables for this user.`,
      cause: error,
    });
  }
  const tlsHint = tlsProblemHint(error);
  return new UnavailableError(`cannot reach Kafka at ${where} (${security.protocol}): ${message}`, {
    hint: tlsHint ?? 'check KAFKA_BROKERS (or --brokers) and that the brokers are up; `paymentsctl stack up` starts a local one',
    cause: error,
  });
}

export function isSaslAuthenticationError(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const { name, cause } = error as { name?: unknown; cause?: unknown };
  return name === 'KafkaJSSASLAuthenticationError' || isSaslAuthenticationError(cause, depth + 1);
}

/** Node's TLS failures carry an OpenSSL-style code; they mean the certificate settings, not the network. */
function tlsProblemHint(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 5) return undefined;
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown };
  const text = `${String(code ?? '')} ${String(message ?? '')}`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|altnames|certificate/i.test(text)) {
    return 'the TLS handshake failed: check KAFKA_SSL_CA_FILE (the CA that signed the brokers), KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE for mutual TLS, and that KAFKA_BROKERS names the hosts in the certificates';
  }
  if (/wrong version number|packet length too long|ECONNRESET|Closed connection/i.test(text) && depth === 0) {
    return 'check KAFKA_BROKERS and that KAFKA_SECURITY_PROTOCOL matches the listener on that port (a TLS client on a plaintext port, or the reverse, fails like this)';
  }
  return tlsProblemHint(cause, depth + 1);
}

export function parseBrokers(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}
