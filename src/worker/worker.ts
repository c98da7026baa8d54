import type { Registry } from 'prom-client';
import { createPool } from '../db/connect.js';
import { createKafka, isSaslAuthenticationError, kafkaConnectError } from '../kafka/client.js';
import type { KafkaSecurity } from '../kafka/security.js';
import { deadLetterTopic, retryTopic } from '../kafka/topics.js';
import type { Logger } from '../log.js';
import { errorMessage, UnavailableError } from '../errors.js';
import { Backoff } from '../backoff.js';
import { deleteProcessedBefore } from '../payments/store.js';
import { InboxCommitter } from '../payments/inbox-commit.js';
import type { CheckoutUrls } from '../payments/stripe-calls.js';
import type { StripeGateway } from '../stripe/index.js';
import { WorkerConsumer, type Route } from './consumer.js';
import type { HandlerName, TopicHandler } from './handler.js';
import { checkoutHandler } from './handlers/checkout.js';
import { paymentsHandler } from './handlers/payments.js';
import { historyHandlers } from './handlers/history.js';
import { refundHandler, releaseHandler } from './handlers/saga.js';
import { createWorkerMetrics } from './metrics.js';
import { Readiness } from '../webhook/readiness.js';

export interface WorkerOptions {
  databaseUrl: string;
  brokers: string[];
  /** TLS and SASL for Kafka (config.ts `kafkaSecurity`); default PLAINTEXT */
  kafkaSecurity?: KafkaSecurity;
  topicPrefix: string;
  handlers: readonly HandlerName[];
  groupId: string;
  concurrency: number;
  retryDelaysMs: readonly number[];
  checkoutUrls: CheckoutUrls;
  /** forget inbox rows older than this; 0 keeps them */
  inboxRetainMs: number;
  /** a start during an outage waits this long for PostgreSQL and Kafka (0: fail at once) */
  outageLimitMs?: number;
  /** Kafka group session timeout; default 30 s */
  sessionTimeoutMs?: number;
  gateway: StripeGateway;
  registry: Registry;
  log: Logger;
}

const INBOX_RETENTION_EVERY_MS = 10 * 60_000;

/**
 * `paymentsctl worker`: consumes the pipeline's commands and events with the chosen handlers, in
 * one consumer group shared by every replica.
 */
export class PaymentsWorker {
  private readonly pool;
  private readonly consumer: WorkerConsumer;
  private readonly routes: Map<string, Route[]>;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly reachability: Readiness;

  constructor(private readonly options: WorkerOptions) {
    this.pool = createPool(options.databaseUrl, { max: options.concurrency + 2, applicationName: 'paymentsctl worker', log: options.log });
    this.reachability = new Readiness({
      pool: this.pool,
      brokers: options.brokers,
      kafkaSecurity: options.kafkaSecurity,
      log: options.log,
      logChanges: false,
    });
    const deps = { gateway: options.gateway };
    const all: Record<HandlerName, TopicHandler[]> = {
      payments: [paymentsHandler(deps)],
      checkout: [checkoutHandler({ ...deps, urls: options.checkoutUrls })],
      saga: [releaseHandler(), refundHandler(deps)],
      history: historyHandlers(),
    };
    this.routes = new Map();
    const route = (topic: string, value: Route) => this.routes.set(topic, [...(this.routes.get(topic) ?? []), value]);
    for (const name of options.handlers) {
      for (const handler of all[name]) {
        const mainTopic = options.topicPrefix + handler.topic;
        route(mainTopic, { handler, mainTopic, level: 0 });
        options.retryDelaysMs.forEach((_, index) => route(retryTopic(mainTopic, index + 1), { handler, mainTopic, level: index + 1 }));
      }
    }
    const metrics = createWorkerMetrics(options.registry);
    this.consumer = new WorkerConsumer({
      kafka: createKafka({ brokers: options.brokers, clientId: 'paymentsctl-worker', log: options.log, security: options.kafkaSecurity }),
      groupId: options.groupId,
      routes: this.routes,
      retryDelaysMs: options.retryDelaysMs,
      concurrency: options.concurrency,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      pool: this.pool,
      committer: new InboxCommitter(this.pool, { onBatch: (size) => metrics.commitBatchSize.observe(size) }),
      log: options.log,
      metrics,
    });
  }

  /** The Kafka topics read (main and retry) and written (dead letters), prefix included. */
  topics(): { consumed: string[]; deadLetters: string[] } {
    const consumed = [...this.routes.keys()];
    const deadLetters = [...new Set([...this.routes.values()].flat().map((route) => deadLetterTopic(route.mainTopic)))];
    return { consumed, deadLetters };
  }

  isReady(): boolean {
    return this.consumer.isReady();
  }

  onFailure(listener: (error: Error) => void): void {
    this.consumer.onFailure(listener);
  }

  dependencies(): Promise<Record<string, string>> {
    return this.reachability.dependencies();
  }

  async start(): Promise<void> {
    await this.untilReachable(async () => {
      await this.checkTopics();
      await this.pool.query('SELECT 1').catch((error: Error) => {
        throw new UnavailableError(`cannot reach PostgreSQL: ${error.message}`, { hint: 'check DATABASE_URL', cause: error });
      });
    });
    // The broker can go away between the check and joining the group: that is waited out too.
    await this.untilReachable(() =>
      this.consumer.start().catch((error: Error) => {
        if (!error.name.startsWith('KafkaJS')) throw error;
        throw new UnavailableError(`cannot reach Kafka at ${this.options.brokers.join(',')}: ${error.message}`, {
          hint: 'check KAFKA_BROKERS',
          cause: error,
        });
      }),
    );
    if (this.options.inboxRetainMs > 0) {
      this.retentionTimer = setInterval(() => void this.pruneInbox(), INBOX_RETENTION_EVERY_MS);
      this.retentionTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.consumer.stop();
    await this.reachability.close();
    await this.pool.end().catch(() => undefined);
  }

  /**
   * A replica started during an outage (a rescheduled pod, a restart while the database fails over)
   * waits for PostgreSQL and Kafka up to the outage limit instead of crash-looping; missing topics
   * still fail at once.
   */
  private async untilReachable(check: () => Promise<void>): Promise<void> {
    const limitMs = this.options.outageLimitMs ?? 0;
    const since = Date.now();
    const backoff = new Backoff(500, 5_000);
    for (;;) {
      try {
        return await check();
      } catch (error) {
        // Refused credentials never heal by waiting: they fail at once, like missing topics.
        const unreachable = error instanceof UnavailableError && !/topics missing/.test(error.message) && !isSaslAuthenticationError(error);
        if (!unreachable || Date.now() - since >= limitMs) throw error;
        if (backoff.failures === 0)
          this.options.log.warn(
            { err: errorMessage(error), outageLimitMs: limitMs },
            'cannot start yet: PostgreSQL or Kafka is unreachable; waiting for it (exits 3 past the outage limit)',
          );
        await backoff.wait([]);
      }
    }
  }

  /** Fails fast, naming what to run, when a consumed, retry or dead-letter topic is missing. */
  private async checkTopics(): Promise<void> {
    const admin = createKafka({
      brokers: this.options.brokers,
      clientId: 'paymentsctl-worker',
      log: this.options.log,
      retries: 2,
      security: this.options.kafkaSecurity,
    }).admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const { consumed, deadLetters } = this.topics();
      const missing = [...consumed, ...deadLetters].filter((topic) => !existing.has(topic));
      if (missing.length) {
        throw new UnavailableError(`Kafka topics missing: ${missing.join(', ')}`, {
          hint: `run: paymentsctl topics ensure --retry-levels ${this.options.retryDelaysMs.length}${this.options.topicPrefix ? ` --topic-prefix ${this.options.topicPrefix}` : ''}`,
        });
      }
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      throw kafkaConnectError(error, this.options.brokers, this.options.kafkaSecurity);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async pruneInbox(): Promise<void> {
    try {
      let deleted = 0;
      for (
        let batch = await deleteProcessedBefore(this.pool, this.options.inboxRetainMs);
        batch > 0;
        batch = await deleteProcessedBefore(this.pool, this.options.inboxRetainMs)
      ) {
        deleted += batch;
      }
      if (deleted) this.options.log.info({ deleted }, 'inbox retention: forgot old message ids');
    } catch (error) {
      this.options.log.warn({ err: error }, 'inbox retention failed; will try again');
    }
  }
}
