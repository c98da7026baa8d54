import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { createKafka } from '../kafka/client.js';
import type { Logger } from '../log.js';
import {
  compensations,
  consumedTopics,
  consumerLag,
  logEnds,
  messagesHeld,
  messagesWritten,
  outboxCounts,
  paymentOutcomes,
  webhookEventCount,
  type ConsumedTopics,
  type PartitionEnds,
} from '../ops/pipeline-reads.js';
import { replayedDeadLetters, type DeadLetterRange } from '../ops/status/database-reads.js';
import type { PaymentStatus } from '../payments/status.js';

/** The state of the pipeline as its stores tell it, for one run's orders. */
export interface PipelineFacts {
  outcomes: Record<PaymentStatus, number>;
  outboxBacklog: number;
  published: number;
  webhookEvents: number;
  compensated: number;
  consumerLag: number;
  retries: number;
  /** messages on the dead-letter topics that `replay dlq` has not put back, as `status` counts them */
  deadLetters: number;
}

/**
 * Reads one run's progress from Postgres and Kafka rather than from the roles' metrics, so the
 * numbers stay true while --chaos kills the roles.
 */
export class PipelineProbe {
  private readonly admin: Admin;
  private connected = false;
  private readonly orderIds: string[];
  private readonly workerGroup: string;
  readonly topics: ConsumedTopics;

  constructor(
    private readonly pool: pg.Pool,
    options: { brokers: string[]; topicPrefix: string; workerGroup: string; orderIds: readonly string[]; log: Logger },
  ) {
    this.admin = createKafka({
      brokers: options.brokers,
      clientId: 'paymentsctl-dev-probe',
      // kafkajs' own log stays silent: a broker that is away is reported once by the run's watcher,
      // not by a warning per connection attempt twice a second.
      retries: 1,
      requestTimeoutMs: 5_000,
    }).admin();
    this.orderIds = [...options.orderIds];
    this.workerGroup = options.workerGroup;
    this.topics = consumedTopics(options.topicPrefix);
  }

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
    const [outcomes, outbox, webhookEvents, compensated] = await Promise.all([
      paymentOutcomes(this.pool, this.orderIds),
      outboxCounts(this.pool),
      webhookEventCount(this.pool),
      compensations(this.pool, this.orderIds),
    ]);
    return { outcomes, outboxBacklog: outbox.backlog, published: outbox.published, webhookEvents, compensated: compensated.size };
  }

  private async kafkaFacts() {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const [consumedEnds, deadLetterEnds] = await Promise.all([
      logEnds(this.admin, [...this.topics.main, ...this.topics.retry]),
      logEnds(this.admin, this.topics.deadLetters),
    ]);
    const held = messagesHeld(deadLetterEnds);
    const replayed = held > 0 ? await replayedDeadLetters(this.pool, deadLetterRanges(deadLetterEnds)) : new Map<string, number>();
    return {
      consumerLag: await consumerLag(this.admin, this.workerGroup, consumedEnds),
      retries: messagesWritten(consumedEnds, this.topics.retry),
      deadLetters: held - [...replayed.values()].reduce((sum, n) => sum + n, 0),
    };
  }
}

function deadLetterRanges(ends: Map<string, PartitionEnds>): DeadLetterRange[] {
  return [...ends].flatMap(([topic, partitions]) =>
    partitions.map((p) => ({ topic, partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) })),
  );
}
