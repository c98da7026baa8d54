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
