import type pg from 'pg';
import { inject } from 'vitest';
import { ensurePipelineTopics } from '../../src/kafka/ensure.js';
import type { KafkaSecurity } from '../../src/kafka/security.js';
import { enqueueMany } from '../../src/outbox/enqueue.js';
import { startStripeEmulator, type FaultConfig, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import type { ChargeReport } from '../../src/stripe-emulator/inspection.js';
import { createTestDatabase, testPool, type TestDatabase } from './db.js';
import { consumeUntil, uniquePrefix, type ConsumedMessage } from './kafka.js';
import { startPublisher, type PublisherProcess } from './publisher.js';
import { startRole, type RoleProcess, type SpawnOptions } from './roles.js';

export interface Order {
  order_id: string;
  amount: number;
  currency: string;
  payment_method: string;
  customer?: string;
}

/**
 * A whole pipeline for one test file: its own database and topic prefix, an in-process Stripe
 * emulator, and the real roles (publisher, workers) as child processes.
 */
export interface Pipeline {
  db: TestDatabase;
  pool: pg.Pool;
  prefix: string;
  brokers: string;
  emulator: RunningEmulator;
  env: Record<string, string>;
  publisher: PublisherProcess;
  startWorker(args?: string[], options?: SpawnOptions): Promise<RoleProcess>;
  /** events into the outbox in one application transaction, the way an application emits them */
  emit(topic: string, events: { key: string; data: unknown }[]): Promise<void>;
  placeOrders(orders: Order[]): Promise<void>;
  read(topic: string, done: (messages: ConsumedMessage[]) => boolean, timeoutMs?: number): Promise<ConsumedMessage[]>;
  charges(): Promise<ChargeReport>;
  /** the last lines each role printed, to explain a failure */
  logs(): string;
  close(): Promise<void>;
}

/** A broker other than the test stack's, e.g. one with TLS and SASL: how the test and the roles reach it. */
export interface PipelineKafka {
  brokers: string;
  /** what the test's own clients use */
  security: KafkaSecurity;
  /** what the roles are given: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* … */
  env: Record<string, string>;
}

export async function startPipeline(
  options: { faults?: Partial<FaultConfig>; seed?: number; partitions?: number; retryLevels?: number; kafka?: PipelineKafka } = {},
): Promise<Pipeline> {
  const kafkaBrokers = options.kafka?.brokers ?? inject('stack').kafkaBrokers;
  const security = options.kafka?.security;
  const db = await createTestDatabase();
  const pool = testPool(db.url);
  const prefix = uniquePrefix();
  const ensure = () =>
    ensurePipelineTopics({
      brokers: kafkaBrokers.split(','),
      prefix,
      partitions: options.partitions ?? 3,
      retryLevels: options.retryLevels ?? 3,
      security,
    });
  // A busy broker can answer a metadata request before a new topic's leaders are known; once more is enough.
  await ensure().catch(async () => ensure());
  const emulator = await startStripeEmulator({ port: 0, seed: options.seed ?? 7, faults: options.faults ?? {} });
  const env = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: kafkaBrokers,
    KAFKA_TOPIC_PREFIX: prefix,
    STRIPE_API_BASE: emulator.url,
    STRIPE_API_KEY: 'sk_test_pipeline',
    ...options.kafka?.env,
  };
  const publisher = await startPublisher(env, ['--poll-interval', '200ms']);
  const workers: RoleProcess[] = [];
  const emit: Pipeline['emit'] = async (topic, events) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await enqueueMany(
        client,
        events.map((e) => ({ topic, key: e.key, type: topic, data: e.data })),
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  };
  return {
    db,
    pool,
    prefix,
    brokers: kafkaBrokers,
    emulator,
    env,
    publisher,
    async startWorker(args = [], startOptions = {}) {
      const worker = await startRole('worker', env, args, startOptions);
      workers.push(worker);
      return worker;
    },
    emit,
    placeOrders: (orders) =>
      emit(
        'orders.placed',
        orders.map((order) => ({ key: order.order_id, data: order })),
      ),
    read: (topic, done, timeoutMs = 60_000) => consumeUntil(kafkaBrokers, prefix + topic, done, timeoutMs, security),
    logs: () =>
      [['publisher', publisher] as const, ...workers.map((w, i) => [`worker ${i + 1}`, w] as const)]
        .map(([name, role]) => `--- ${name} ---\n${role.output().slice(-6000)}`)
        .join('\n'),
    charges: async () => (await (await fetch(`${emulator.url}/_emulator/charges`)).json()) as ChargeReport,
    async close() {
      for (const role of [...workers, publisher]) if (role.process.exitCode === null) await role.kill('SIGKILL');
      await emulator.close();
      await pool.end();
      await db.drop();
    },
  };
}

export const parseValue = <T = Record<string, unknown>>(message: ConsumedMessage): T => JSON.parse(message.value) as T;
