import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { InboxConsumers, Topics } from '../contracts.js';
import { CONSUMED_TOPICS, deadLetterTopic, DEFAULT_RETRY_DELAYS_MS, retryTopic } from '../kafka/topics.js';
import { PAYMENT_STATUSES, type PaymentStatus } from '../payments/status.js';

/**
 * The pipeline's state as its stores tell it — PostgreSQL (payments, outbox, inbox, webhook events)
 * and Kafka (log ends, committed offsets) — never the roles' own metrics, so the answers stay true
 * while roles restart. What operators ask about a pipeline (`dev` while it runs, `status`).
 */

export const emptyOutcomes = (): Record<PaymentStatus, number> =>
  Object.fromEntries(PAYMENT_STATUSES.map((s) => [s, 0])) as Record<PaymentStatus, number>;

/** How many of these aggregates' payments rows are in each status. */
export async function paymentOutcomes(db: pg.Pool, aggregateIds: readonly string[]): Promise<Record<PaymentStatus, number>> {
  const { rows } = await db.query<{ status: PaymentStatus; n: string }>(
    'SELECT status, count(*) AS n FROM payments WHERE aggregate_id = ANY($1) GROUP BY status',
    [aggregateIds],
  );
  const outcomes = emptyOutcomes();
  for (const row of rows) outcomes[row.status] = Number(row.n);
  return outcomes;
}

/** Each of these aggregates' payments status; an aggregate without a row is absent. */
export async function paymentStatuses(db: pg.Pool, aggregateIds: readonly string[]): Promise<Map<string, PaymentStatus>> {
  const { rows } = await db.query<{ aggregate_id: string; status: PaymentStatus }>(
    'SELECT aggregate_id, status FROM payments WHERE aggregate_id = ANY($1)',
    [aggregateIds],
  );
  return new Map(rows.map((row) => [row.aggregate_id, row.status]));
}

/** Outbox rows still to publish (the backlog) and already published. */
export async function outboxCounts(db: pg.Pool): Promise<{ backlog: number; published: number }> {
  const { rows } = await db.query<{ backlog: string; published: string }>(
    'SELECT count(*) FILTER (WHERE published_at IS NULL) AS backlog, count(*) FILTER (WHERE published_at IS NOT NULL) AS published FROM outbox',
  );
  return { backlog: Number(rows[0]?.backlog ?? 0), published: Number(rows[0]?.published ?? 0) };
}

/** Webhook events recorded (each Stripe event id once). */
export async function webhookEventCount(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM webhook_events');
  return Number(rows[0]?.n ?? 0);
}

/** For each of these orders that was cancelled: how many of its cancellations the saga has applied. */
export async function compensations(db: pg.Pool, orderIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ key: string; n: string }>(
    `SELECT o.key, count(*) AS n FROM outbox o
       JOIN processed_messages p ON p.consumer = $1 AND p.message_id = o.event_id::text
      WHERE o.topic = $2 AND o.key = ANY($3) GROUP BY o.key`,
    [InboxConsumers.sagaRefund, Topics.ordersCancelled, orderIds],
  );
  return new Map(rows.map((row) => [row.key, Number(row.n)]));
}

/** The Kafka topics the worker consumes (main and retry) and its dead letters, prefix included. */
export interface ConsumedTopics {
  main: string[];
  retry: string[];
  deadLetters: string[];
}

export function consumedTopics(prefix: string, retryLevels = DEFAULT_RETRY_DELAYS_MS.length): ConsumedTopics {
  const prefixed = (topic: string) => prefix + topic;
  return {
    main: CONSUMED_TOPICS.map(prefixed),
    retry: CONSUMED_TOPICS.flatMap((topic) => Array.from({ length: retryLevels }, (_, i) => prefixed(retryTopic(topic, i + 1)))),
    deadLetters: CONSUMED_TOPICS.map((topic) => prefixed(deadLetterTopic(topic))),
  };
}

export type PartitionEnds = { partition: number; low: string; high: string }[];

/** Each topic's partitions with their first and next offsets. */
export async function logEnds(admin: Admin, topics: readonly string[]): Promise<Map<string, PartitionEnds>> {
  const offsets = await Promise.all(topics.map(async (topic) => [topic, await admin.fetchTopicOffsets(topic)] as const));
  return new Map(offsets);
}

/** Messages in these topics the group has not committed past yet. */
export async function consumerLag(admin: Admin, groupId: string, ends: Map<string, PartitionEnds>): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...ends.keys()] });
  let lag = 0;
  for (const { topic, partitions } of committed) {
    const end = ends.get(topic) ?? [];
    for (const { partition, offset } of partitions) {
      const p = end.find((e) => e.partition === partition);
      if (!p) continue;
      // -1: the group never committed here; everything from the log start is still to do.
      const from = Number(offset) < 0 ? Number(p.low) : Number(offset);
      lag += Math.max(0, Number(p.high) - from);
    }
  }
  return lag;
}

/** Messages ever written to these topics (retention does not lower it): e.g. how many retries there were. */
export function messagesWritten(ends: Map<string, PartitionEnds>, topics: readonly string[]): number {
  let written = 0;
  for (const topic of topics) for (const p of ends.get(topic) ?? []) written += Number(p.high);
  return written;
}

/** Messages these topics hold now: e.g. a dead-letter queue's depth. */
export function messagesHeld(ends: Map<string, PartitionEnds>): number {
  let held = 0;
  for (const partitions of ends.values()) for (const p of partitions) held += Number(p.high) - Number(p.low);
  return held;
}
