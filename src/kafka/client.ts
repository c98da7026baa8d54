import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '../log.js';

export interface KafkaClientOptions {
  brokers: string[];
  clientId?: string;
  log?: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** retries of kafkajs' own retrier for each request */
  retries?: number;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose log lines go through our logger (JSON, redacted) instead of its own. */
export function createKafka(options: KafkaClientOptions): Kafka {
  const log = options.log;
  const config: KafkaConfig = {
    clientId: options.clientId ?? 'paymentsctl',
    brokers: options.brokers,
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

export function parseBrokers(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}
