/**
 * Settings resolve as: flag > environment (first of the names listed) > default.
 * Every setting is described once here, so error messages, the flags' help and the README agree.
 * No dependencies: the CLI reads it to declare its flags before it loads anything else.
 */
export interface SettingSpec {
  /** the primary environment variable; aliases follow */
  env: readonly [string, ...string[]];
  flag?: string;
  secret?: boolean;
  description: string;
}

export const SETTINGS = {
  databaseUrl: {
    env: ['DATABASE_URL', 'DB_DSN'],
    flag: '--database-url',
    description: 'PostgreSQL connection URL (postgres://USER@HOST:PORT/DATABASE)',
  },
  kafkaBrokers: {
    env: ['KAFKA_BROKERS'],
    flag: '--brokers',
    description: 'Kafka bootstrap brokers, comma separated host:port',
  },
  stripeApiKey: {
    env: ['STRIPE_API_KEY', 'STRIPE_KEY'],
    secret: true,
    description: 'Stripe secret key (sk_test_… / sk_live_…); never logged',
  },
  stripeApiBase: {
    env: ['STRIPE_API_BASE'],
    description: 'Stripe API base URL, e.g. http://127.0.0.1:12111 for the emulator',
  },
  webhookSecrets: {
    env: ['STRIPE_WEBHOOK_SECRET', 'STRIPE_WEBHOOK_KEY'],
    secret: true,
    description: 'Stripe webhook signing secrets, comma separated for rotation; unset → webhook answers 503',
  },
  databaseSslCaFile: {
    env: ['DATABASE_SSL_CA_FILE', 'PGSSLROOTCERT'],
    flag: '--database-ssl-ca-file',
    description:
      'PEM file of the CA that signed the PostgreSQL server certificate, for sslmode=verify-ca or verify-full in DATABASE_URL (same as sslrootcert=FILE in the URL)',
  },
  kafkaSecurityProtocol: {
    env: ['KAFKA_SECURITY_PROTOCOL'],
    flag: '--kafka-security-protocol',
    description:
      'how to talk to Kafka, as in its security.protocol: PLAINTEXT (default), SSL, SASL_SSL, or SASL_PLAINTEXT (password unencrypted)',
  },
  kafkaSaslMechanism: {
    env: ['KAFKA_SASL_MECHANISM'],
    flag: '--kafka-sasl-mechanism',
    description: 'SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER',
  },
  kafkaSaslUsername: {
    env: ['KAFKA_SASL_USERNAME'],
    flag: '--kafka-sasl-username',
    description: 'SASL user name (PLAIN and SCRAM)',
  },
  kafkaSaslPassword: {
    env: ['KAFKA_SASL_PASSWORD'],
    secret: true,
    description: 'SASL password (PLAIN and SCRAM); never logged',
  },
  kafkaOauthTokenFile: {
    env: ['KAFKA_OAUTH_TOKEN_FILE'],
    flag: '--kafka-oauth-token-file',
    description: 'OAUTHBEARER: file holding the access token, kept fresh by a sidecar; read again before the token expires',
  },
  kafkaOauthExtensions: {
    env: ['KAFKA_OAUTH_EXTENSIONS'],
    description: 'OAUTHBEARER SASL extensions, comma separated key=value (Confluent Cloud: logicalCluster=lkc-…,identityPoolId=pool-…)',
  },
  kafkaSslCaFile: {
    env: ['KAFKA_SSL_CA_FILE'],
    flag: '--kafka-ssl-ca-file',
    description: "PEM file of the CA that signed the brokers' certificates (default: the system's trusted CAs)",
  },
  kafkaSslCertFile: {
    env: ['KAFKA_SSL_CERT_FILE'],
    flag: '--kafka-ssl-cert-file',
    description: 'PEM client certificate for mutual TLS (with KAFKA_SSL_KEY_FILE)',
  },
  kafkaSslKeyFile: {
    env: ['KAFKA_SSL_KEY_FILE'],
    flag: '--kafka-ssl-key-file',
    description: 'PEM private key of the client certificate for mutual TLS; never logged',
  },
  kafkaSslRejectUnauthorized: {
    env: ['KAFKA_SSL_REJECT_UNAUTHORIZED'],
    description: 'true (default) or false: false accepts any broker certificate, only for a test cluster',
  },
  topicPrefix: {
    env: ['KAFKA_TOPIC_PREFIX'],
    flag: '--topic-prefix',
    description: 'prefix for every topic name, to share one cluster between environments',
  },
  outageLimit: {
    env: ['OUTAGE_LIMIT'],
    flag: '--outage-limit',
    description:
      'how long a role rides out PostgreSQL or Kafka being unreachable before it exits 3 (so its container is restarted), e.g. 5m',
  },
} as const satisfies Record<string, SettingSpec>;

/** OUTAGE_LIMIT when unset: a managed database's failover or minor upgrade is over well before. */
export const DEFAULT_OUTAGE_LIMIT = '5m';

export type SettingName = keyof typeof SETTINGS;

/** The TLS/SASL settings: `dev` runs its roles against its own plaintext stack, whatever the shell exports. */
export const STORE_SECURITY_SETTINGS = [
  'databaseSslCaFile',
  'kafkaSecurityProtocol',
  'kafkaSaslMechanism',
  'kafkaSaslUsername',
  'kafkaSaslPassword',
  'kafkaOauthTokenFile',
  'kafkaOauthExtensions',
  'kafkaSslCaFile',
  'kafkaSslCertFile',
  'kafkaSslKeyFile',
  'kafkaSslRejectUnauthorized',
] as const satisfies readonly SettingName[];

/** `env` without any variable of the TLS/SASL settings. */
export function withoutStoreSecurity(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names = new Set<string>(STORE_SECURITY_SETTINGS.flatMap((name) => [...SETTINGS[name].env]));
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.has(name)));
}
