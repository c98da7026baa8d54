import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { createKafka } from '../kafka/client.js';
import { InboxConsumers, Topics } from '../contracts.js';
import { CONSUMED_TOPICS, deadLetterTopic, DEFAULT_RETRY_DELAYS_MS, retryTopic } from '../kafka/topics.js';
import type { Logger } from '../log.js';
import { PAYMENT_STATUSES, type PaymentStatus } from '../payments/status.js';

/** The state of the pipeline as its stores tell it, for one run's orders. */
export interface PipelineFacts {
  outcomes: Record<PaymentStatus, number>;
  outboxBacklog: number;
  published: number;
  webhookEvents: number;
  compensated: number;
  consumerLag: number;
  retries: number;
  deadLetters: number;
}

export const emptyOutcomes = (): Record<PaymentStatus, number> =>
  Object.fromEntries(PAYMENT_STATUSES.map((s) => [s, 0])) as Record<PaymentStatus, number>;

/**
 * Reads progress from Postgres and Kafka rather than from the roles' metrics, so the numbers stay
 * true while --chaos kills the roles.
 */
export class PipelineProbe {
  private readonly admin: Admin;
  private connected = false;

  constructor(
    private readonly pool: pg.Pool,
    options: { brokers: string[]; topicPrefix: string; workerGroup: string; orderIds: readonly string[]; log: Logger },
  ) {
    this.admin = createKafka({
      brokers: options.brokers,
      clientId: 'paymentsctl-dev-probe',
      log: options.log,
      retries: 1,
      requestTimeoutMs: 5_000,
    }).admin();
    this.orderIds = [...options.orderIds];
    this.workerGroup = options.workerGroup;
    const prefixed = (topic: string) => options.topicPrefix + topic;
    this.mainTopics = CONSUMED_TOPICS.map(prefixed);
    this.retryTopics = CONSUMED_TOPICS.flatMap((topic) => DEFAULT_RETRY_DELAYS_MS.map((_, i) => prefixed(retryTopic(topic, i + 1))));
    this.deadLetterTopics = CONSUMED_TOPICS.map((topic) => prefixed(deadLetterTopic(topic)));
  }

  private readonly orderIds: string[];
  private readonly workerGroup: string;
  readonly mainTopics: string[];
  readonly retryTopics: string[];
  readonly deadLetterTopics: string[];

  async facts(): Promise<PipelineFacts> {
    const [database, kafka] = await Promise.all([this.databaseFacts(), this.kafkaFacts()]);
    return { ...database, ...kafka };
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }

  // By this run's order ids: the emulator sends every event of the account to every endpoint, so
  // a receiver also records the payments of another run sharing the emulator.
  private async databaseFacts() {
    const [statuses, outbox, webhooks, compensated] = await Promise.all([
      this.pool.query<{ status: PaymentStatus; n: string }>(
        'SELECT status, count(*) AS n FROM payments WHERE aggregate_id = ANY($1) GROUP BY status',
        [this.orderIds],
      ),
      this.pool.query<{ backlog: string; published: string }>(
        'SELECT count(*) FILTER (WHERE published_at IS NULL) AS backlog, count(*) FILTER (WHERE published_at IS NOT NULL) AS published FROM outbox',
      ),
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM webhook_events'),
      this.pool.query<{ n: string }>(
        `SELECT count(DISTINCT o.key) AS n FROM outbox o
           JOIN processed_messages p ON p.consumer = $1 AND p.message_id = o.event_id::text
          WHERE o.topic = $2 AND o.key = ANY($3)`,
        [InboxConsumers.sagaRefund, Topics.ordersCancelled, this.orderIds],
      ),
    ]);
    const outcomes = emptyOutcomes();
    for (const row of statuses.rows) outcomes[row.status] = Number(row.n);
    return {
      outcomes,
      outboxBacklog: Number(outbox.rows[0]?.backlog ?? 0),
      published: Number(outbox.rows[0]?.published ?? 0),
      webhookEvents: Number(webhooks.rows[0]?.n ?? 0),
      compensated: Number(compensated.rows[0]?.n ?? 0),
    };
  }

  private async kafkaFacts() {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const ends = async (topics: string[]) => {
      const offsets = await Promise.all(topics.map(async (topic) => [topic, await this.admin.fetchTopicOffsets(topic)] as const));
      return new Map(offsets);
    };
    const consumed = [...this.mainTopics, ...this.retryTopics];
    const [consumedEnds, deadLetterEnds, committed] = await Promise.all([
      ends(consumed),
      ends(this.deadLetterTopics),
      this.admin.fetchOffsets({ groupId: this.workerGroup, topics: consumed }),
    ]);
    let consumerLag = 0;
    for (const { topic, partitions } of committed) {
      const end = consumedEnds.get(topic) ?? [];
      for (const { partition, offset } of partitions) {
        const p = end.find((e) => e.partition === partition);
        if (!p) continue;
        // -1: the group never committed here; everything from the log start is still to do.
        const from = Number(offset) < 0 ? Number(p.low) : Number(offset);
        consumerLag += Math.max(0, Number(p.high) - from);
      }
    }
    let retries = 0;
    for (const topic of this.retryTopics) for (const p of consumedEnds.get(topic) ?? []) retries += Number(p.high);
    let deadLetters = 0;
    for (const partitions of deadLetterEnds.values()) for (const p of partitions) deadLetters += Number(p.high) - Number(p.low);
    return { consumerLag, retries, deadLetters };
  }
}
