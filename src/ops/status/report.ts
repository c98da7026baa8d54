import type { SchemaVerdict } from '../../migrate/schema.js';
import type { OutboxTopicState, PaymentsState, PublisherState, SetAsideRow, WebhooksState } from './database-reads.js';
import type { LagVerdict } from './lag-verdict.js';

/** What `status` reports, section by section; --json prints exactly this. */

export interface ConsumerPartitionReport {
  topic: string;
  partition: number;
  committed: string | null;
  high: string;
  lag: number;
  verdict: LagVerdict;
  why: string;
  /** age of the message at the committed offset (the next one the group will read), ms */
  timeLagMs: number | null;
}

export interface ConsumerGroupReport {
  groupId: string;
  state: string;
  members: { clientId: string; host: string }[];
  lag: number;
  verdict: LagVerdict;
  maxTimeLagMs: number | null;
  /** every partition the group consumes */
  partitions: ConsumerPartitionReport[];
}

export interface RetryTopicReport {
  topic: string;
  /** copies the worker has not consumed yet */
  waiting: number;
  /** the earliest due time of a waiting copy (ISO), when one was read */
  nextDueAt: string | null;
}

export interface DeadLetterReport {
  topic: string;
  depth: number;
  /** of those, how many `replay dlq` has put back (an acknowledged copy): depth minus this still waits for someone */
  replayed: number;
  /** age of the oldest message held, ms */
  oldestAgeMs: number | null;
  /** counts over the messages read (`sampled`), by error kind and by dead-letter reason */
  errorKinds: Record<string, number>;
  reasons: Record<string, number>;
  sampled: number;
}

export interface StripeReport {
  configured: boolean;
  reachable: boolean | null;
  mode: 'test' | 'live' | 'unknown' | null;
  error?: string;
}

export type Section = 'schema' | 'outbox' | 'publisher' | 'consumers' | 'retries' | 'deadLetters' | 'payments' | 'webhooks' | 'stripe';

export interface Finding {
  section: Section;
  /** a short stable name scripts can match: outbox_oldest_unpublished, consumer_stall, ... */
  kind: string;
  /** what is wrong, naming the topic, group or payment */
  message: string;
  value?: number | string;
  threshold?: number | string;
}

export interface Unreachable {
  store: 'postgres' | 'kafka';
  error: string;
}

export interface StatusThresholds {
  /** oldest unpublished outbox row older than this is a finding */
  maxOutboxAgeMs: number;
  /** more messages than this in a dead-letter topic is a finding */
  maxDeadLetters: number;
  /** lag growing over this many looks is WARN */
  growingLooks: number;
  /** a payment pending (or requires_action) longer than this is stuck */
  maxPendingMs: number;
  /** the message at a group's committed offset older than this is a finding; 0 turns it off */
  maxTimeLagMs: number;
  /** no webhook received for this long is a finding; 0 turns it off */
  maxWebhookSilenceMs: number;
}

export const DEFAULT_THRESHOLDS: StatusThresholds = {
  maxOutboxAgeMs: 60_000,
  maxDeadLetters: 0,
  growingLooks: 3,
  maxPendingMs: 15 * 60_000,
  maxTimeLagMs: 5 * 60_000,
  maxWebhookSilenceMs: 0,
};

export type Verdict = 'healthy' | 'degraded' | 'unreachable';

export interface StatusReport {
  verdict: Verdict;
  generatedAt: string;
  /** findings over their thresholds, first in every view */
  findings: Finding[];
  unreachable: Unreachable[];
  thresholds: StatusThresholds;
  /** how many looks at Kafka the consumer verdicts are based on, and over how long */
  window: { looks: number; spanMs: number };
  database: string | null;
  brokers: string[];
  topicPrefix: string;
  /** the database's migrations against those this binary ships */
  schema: SchemaVerdict | null;
  outbox: { topics: OutboxTopicState[]; setAside: SetAsideRow[]; retainMs: number } | null;
  publisher: PublisherState | null;
  consumers: ConsumerGroupReport[] | null;
  retries: RetryTopicReport[] | null;
  deadLetters: DeadLetterReport[] | null;
  payments: PaymentsState | null;
  webhooks: WebhooksState | null;
  stripe: StripeReport;
}
