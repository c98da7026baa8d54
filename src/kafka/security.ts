import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { oauthTokenProvider } from './oauth-token.js';

/** Kafka's own `security.protocol` values: TLS or not, SASL or not. */
export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaTls {
  /** PEM of the CA(s) to trust; undefined: the system's */
  ca?: string;
  /** client certificate and key (PEM) for mutual TLS */
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

export type KafkaSasl =
  | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string }
  | { mechanism: 'OAUTHBEARER'; tokenFile: string; extensions?: Record<string, string> };

/**
 * How to reach the brokers securely, already validated (config.ts `kafkaSecurity`): `tls` is set
 * exactly for SSL and SASL_SSL, `sasl` exactly for SASL_SSL and SASL_PLAINTEXT, so kafkajs can never
 * send a password in the clear unless SASL_PLAINTEXT was asked for.
 */
export interface KafkaSecurity {
  protocol: SecurityProtocol;
  tls?: KafkaTls;
  sasl?: KafkaSasl;
}

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT' };

/** The `ssl` and `sasl` parts of a kafkajs config for `security`. */
export function kafkajsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const usesTls = security.protocol === 'SSL' || security.protocol === 'SASL_SSL';
  const usesSasl = security.protocol === 'SASL_SSL' || security.protocol === 'SASL_PLAINTEXT';
  // Checked again here, not only in config: a library caller may build a KafkaSecurity by hand.
  if (usesSasl !== Boolean(security.sasl)) {
    throw new Error(`KAFKA_SECURITY_PROTOCOL ${security.protocol} ${usesSasl ? 'needs' : 'does not take'} SASL settings`);
  }
  if (!usesTls && security.tls) throw new Error(`KAFKA_SECURITY_PROTOCOL ${security.protocol} does not take TLS settings`);
  const result: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (usesTls) result.ssl = tlsOptions(security.tls ?? { rejectUnauthorized: true });
  if (security.sasl) result.sasl = saslOptions(security.sasl);
  return result;
}

function tlsOptions(tls: KafkaTls): ConnectionOptions {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca ? { ca: [tls.ca] } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
  };
}

function saslOptions(sasl: KafkaSasl): SASLOptions {
  switch (sasl.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', username: sasl.username, password: sasl.password };
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username: sasl.username, password: sasl.password };
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username: sasl.username, password: sasl.password };
    case 'OAUTHBEARER':
      return { mechanism: 'oauthbearer', oauthBearerProvider: oauthTokenProvider(sasl.tokenFile, sasl.extensions) };
  }
}

/** For log lines and `started` messages: what is used, never a secret. */
export function describeSecurity(security: KafkaSecurity): Record<string, string | boolean> {
  return {
    protocol: security.protocol,
    ...(security.sasl ? { saslMechanism: security.sasl.mechanism } : {}),
    ...(security.sasl && 'username' in security.sasl ? { saslUsername: security.sasl.username } : {}),
    ...(security.tls ? { tlsClientCertificate: Boolean(security.tls.cert), tlsVerify: security.tls.rejectUnauthorized } : {}),
  };
}
