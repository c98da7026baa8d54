import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import type pg from 'pg';
import { createPool, describeTarget } from '../../db/connect.js';
import { errorMessage } from '../../errors.js';
import { createKafka } from '../../kafka/client.js';
import type { KafkaSecurity } from '../../kafka/security.js';
import type { ReadMessage } from '../../kafka/reader.js';
import type { Logger } from '../../log.js';
import { FailureHeaders } from '../../worker/headers.js';
import { consumedTopics } from '../pipeline-reads.js';
import {
  expectedPublisherTopics,
  outboxState,
  paymentsState,
  publisherState,
  replayedDeadLetters,
  schemaState,
  webhooksState,
  type DeadLetterRange,
} from './database-reads.js';
import { findingsOf } from './findings.js';
import {
  dueAtOfMessage,
  headerText,
  lookAtKafka,
  partitionLooks,
  peek,
  type GroupToWatch,
  type KafkaLook,
  type PeekRequest,
} from './kafka-reads.js';
import { lagAt, partitionVerdict, worstVerdict } from './lag-verdict.js';
import type { ConsumerGroupReport, DeadLetterReport, RetryTopicReport, StatusReport, StatusThresholds, Unreachable } from './report.js';
import { checkStripe, type StripeTarget } from './stripe-check.js';

export interface StatusOptions {
  databaseUrl: string;
  brokers: string[];
  kafkaSecurity?: KafkaSecurity;
  topicPrefix: string;
  /** groups to report besides the pipeline's worker groups (found by name) */
  groups?: string[];
  thresholds: StatusThresholds;
  /** the publisher's retention window: published rows older than this should be gone */
  outboxRetainMs?: number;
  stripe?: StripeTarget;
  /** read the messages at committed offsets and DLQ starts (time lag, due times, error kinds) */
  peekMessages?: boolean;
  /** how many DLQ messages per partition are read to count error kinds and reasons */
  deadLetterSample?: number;
  log?: Logger;
}

/** The default worker group, and the name every worker group starts with. */
export const workerGroupPrefix = (topicPrefix: string) => `${topicPrefix}paymentsctl-worker`;

const WINDOW = 10;

/**
 * Reads the pipeline's health from its stores. Consumer verdicts need a window of looks at Kafka:
 * `look()` adds one (kept: the last ten), `report()` reads everything else and judges.
 */
export class StatusMonitor {
  private readonly pool: pg.Pool;
  private readonly kafka: Kafka;
  private readonly reader: Kafka;
  private readonly admin: Admin;
  private adminConnected = false;
  private readonly window: KafkaLook[] = [];
  private kafkaError: string | undefined;
  private readonly topics;

  constructor(private readonly options: StatusOptions) {
    this.pool = createPool(options.databaseUrl, { max: 4, applicationName: 'paymentsctl status', connectionTimeoutMs: 5_000 });
    this.kafka = createKafka({
      brokers: options.brokers,
      security: options.kafkaSecurity,
      clientId: 'paymentsctl-status',
      log: options.log,
      retries: 1,
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 10_000,
    });
    this.admin = this.kafka.admin();
    // Reading messages sets up a temporary group: worth riding out a coordinator still loading.
    this.reader = createKafka({
      brokers: options.brokers,
      security: options.kafkaSecurity,
      clientId: 'paymentsctl-status',
      log: options.log,
      retries: 8,
    });
    this.topics = consumedTopics(options.topicPrefix);
  }

  /** Groups to judge: every worker group of this prefix that exists, the default one always, and --group. */
  private async groups(): Promise<GroupToWatch[]> {
    const prefix = workerGroupPrefix(this.options.topicPrefix);
    const listed = (await this.admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
    const ids = [...new Set([prefix, ...listed, ...(this.options.groups ?? [])])];
    return ids.map((groupId) => ({ groupId, topics: groupId === prefix ? [...this.topics.main, ...this.topics.retry] : [] }));
  }

  /** Kafka did not answer the last look. */
  get kafkaUnreachable(): boolean {
    return this.kafkaError !== undefined;
  }

  async look(): Promise<void> {
    // A broker that answers but whose group coordinator is still loading (a fresh or restarted
    // broker) is not unreachable: ask again for a few seconds. One that does not answer is.
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.adminConnected) {
          await this.admin.connect();
          this.adminConnected = true;
        }
        this.window.push(await lookAtKafka(this.admin, await this.groups(), this.topics.deadLetters));
        if (this.window.length > WINDOW) this.window.shift();
        this.kafkaError = undefined;
        return;
      } catch (error) {
        if (attempt < 8 && coordinatorNotReady(error)) {
          await sleep(500);
          continue;
        }
        this.kafkaError = `cannot read Kafka at ${this.options.brokers.join(',')}: ${errorMessage(error)}`;
        return;
      }
    }
  }

  async report(): Promise<StatusReport> {
    const { thresholds } = this.options;
    const retainMs = this.options.outboxRetainMs ?? 24 * 3_600_000;
    const unreachable: Unreachable[] = [];
    const database = await Promise.all([
      outboxState(this.pool, retainMs),
      schemaState(this.pool),
      paymentsState(this.pool, thresholds.maxPendingMs),
      webhooksState(this.pool),
    ]).then(
      async ([outbox, schema, payments, webhooks]) => ({
        outbox,
        schema,
        payments,
        webhooks,
        publisher: await publisherState(this.pool, expectedPublisherTopics(outbox.topics)),
      }),
      (error: unknown) => {
        unreachable.push({
          store: 'postgres',
          error: `cannot read PostgreSQL at ${describeTarget(this.options.databaseUrl)}: ${errorMessage(error)}`,
        });
        return undefined;
      },
    );
    const stripe = checkStripe(this.options.stripe);
    const kafka = this.kafkaError === undefined && this.window.length ? await this.kafkaSections() : undefined;
    if (this.kafkaError !== undefined) unreachable.push({ store: 'kafka', error: this.kafkaError });
    if (kafka && database) {
      // Dead letters already put back by `replay dlq` stay on their topic (never deleted), so the depth
      // that counts is net of them. A database without the replay tables has replayed nothing.
      const replayed = await replayedDeadLetters(this.pool, kafka.deadLetterRanges).catch((error: unknown) => {
        this.options.log?.warn({ err: errorMessage(error) }, 'could not read what replay has put back; dead-letter depth not netted');
        return new Map<string, number>();
      });
      for (const report of kafka.deadLetters) report.replayed = Math.min(report.depth, replayed.get(report.topic) ?? 0);
    }
    const sections = {
      schema: database?.schema ?? null,
      outbox: database ? { ...database.outbox, retainMs } : null,
      publisher: database?.publisher ?? null,
      payments: database?.payments ?? null,
      webhooks: database?.webhooks ?? null,
      consumers: kafka?.consumers ?? null,
      retries: kafka?.retries ?? null,
      deadLetters: kafka?.deadLetters ?? null,
      stripe: await stripe,
    };
    const findings = findingsOf(sections, thresholds);
    const first = this.window[0];
    const last = this.window.at(-1);
    return {
      verdict: unreachable.length ? 'unreachable' : findings.length ? 'degraded' : 'healthy',
      generatedAt: new Date().toISOString(),
      findings,
      unreachable,
      thresholds,
      window: { looks: this.window.length, spanMs: first && last ? last.atMs - first.atMs : 0 },
      database: describeTarget(this.options.databaseUrl),
      brokers: this.options.brokers,
      topicPrefix: this.options.topicPrefix,
      ...sections,
    };
  }

  private async kafkaSections() {
    const last = this.window.at(-1) as KafkaLook;
    const requests: PeekRequest[] = [];
    const peekAt = (topic: string, partition: number, from: bigint, until: bigint, onMessage: (m: ReadMessage) => void) =>
      requests.push({ topic, partition, from, until, onMessage });

    const consumers: ConsumerGroupReport[] = [...last.groups.values()].map((group) => {
      const partitions = [...group.committed.entries()].flatMap(([topic, byPartition]) =>
        [...byPartition.keys()].map((partition) => {
          const looks = partitionLooks(this.window, group.groupId, topic, partition);
          const judged = partitionVerdict(looks, this.options.thresholds.growingLooks);
          const now = looks.at(-1);
          const report = {
            topic,
            partition,
            committed: now?.committed?.toString() ?? null,
            high: now?.high.toString() ?? '0',
            lag: Number(judged.lag),
            verdict: judged.verdict,
            why: judged.why,
            timeLagMs: judged.lag > 0n ? null : 0,
          };
          if (now && judged.lag > 0n) {
            const from = now.committed === null || now.committed < now.low ? now.low : now.committed;
            peekAt(topic, partition, from, from + 1n, (m) => (report.timeLagMs = Math.max(0, Date.now() - Number(m.timestamp))));
          }
          return report;
        }),
      );
      return {
        groupId: group.groupId,
        state: group.state,
        members: group.members,
        lag: partitions.reduce((sum, p) => sum + p.lag, 0),
        verdict: worstVerdict(partitions.map((p) => p.verdict)),
        maxTimeLagMs: null as number | null,
        partitions,
      };
    });

    const workerGroup = last.groups.get(workerGroupPrefix(this.options.topicPrefix));
    const retries: RetryTopicReport[] = this.topics.retry.map((topic) => {
      const report: RetryTopicReport = { topic, waiting: 0, nextDueAt: null };
      for (const [partition, end] of last.ends.get(topic) ?? []) {
        const committed = workerGroup?.committed.get(topic)?.get(partition) ?? null;
        const waiting = lagAt({ atMs: last.atMs, committed, ...end });
        report.waiting += Number(waiting);
        if (waiting > 0n) {
          const from = committed === null || committed < end.low ? end.low : committed;
          peekAt(topic, partition, from, from + 1n, (m) => {
            const due = dueAtOfMessage(m);
            if (due !== undefined && (report.nextDueAt === null || due < Date.parse(report.nextDueAt)))
              report.nextDueAt = new Date(due).toISOString();
          });
        }
      }
      return report;
    });

    const sample = BigInt(this.options.deadLetterSample ?? 500);
    const deadLetterRanges: DeadLetterRange[] = [];
    const deadLetters: DeadLetterReport[] = this.topics.deadLetters.map((topic) => {
      const report: DeadLetterReport = { topic, depth: 0, replayed: 0, oldestAgeMs: null, errorKinds: {}, reasons: {}, sampled: 0 };
      for (const [partition, end] of last.ends.get(topic) ?? []) {
        deadLetterRanges.push({ topic, partition, low: end.low, high: end.high });
        const depth = end.high - end.low;
        report.depth += Number(depth);
        if (depth <= 0n) continue;
        peekAt(topic, partition, end.low, end.low + (depth < sample ? depth : sample), (m) => {
          report.sampled++;
          const age = Math.max(0, Date.now() - Number(m.timestamp));
          report.oldestAgeMs = Math.max(report.oldestAgeMs ?? 0, age);
          const kind = headerText(m, FailureHeaders.errorKind) ?? 'unknown';
          const reason = headerText(m, FailureHeaders.deadLetterReason) ?? 'unknown';
          report.errorKinds[kind] = (report.errorKinds[kind] ?? 0) + 1;
          report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
        });
      }
      return report;
    });

    if (this.options.peekMessages ?? true) {
      await peek(this.reader, requests, 20_000, this.options.log).catch((error: unknown) =>
        this.options.log?.warn({ err: errorMessage(error) }, 'could not read the messages behind the lag; time lag unknown'),
      );
    }
    for (const group of consumers) {
      const known = group.partitions.map((p) => p.timeLagMs).filter((ms): ms is number => ms !== null);
      group.maxTimeLagMs = known.length ? Math.max(...known) : null;
    }
    return { consumers, retries, deadLetters, deadLetterRanges };
  }

  async close(): Promise<void> {
    if (this.adminConnected) await this.admin.disconnect().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

function coordinatorNotReady(error: unknown): boolean {
  let cause: unknown = error;
  while (cause && typeof cause === 'object') {
    const e = cause as { name?: string; retriable?: boolean; type?: string; cause?: unknown };
    if (e.name === 'KafkaJSGroupCoordinatorNotFound') return true;
    if (e.name === 'KafkaJSProtocolError' && e.retriable) return true;
    cause = e.cause;
  }
  return false;
}

/** One report: `looks` looks at Kafka `intervalMs` apart, then everything else. */
export async function pipelineStatus(
  options: StatusOptions,
  window: { looks: number; intervalMs: number; signal?: AbortSignal },
): Promise<StatusReport> {
  const monitor = new StatusMonitor(options);
  try {
    for (let i = 0; i < window.looks; i++) {
      if (i > 0) await sleep(window.intervalMs, undefined, { signal: window.signal });
      await monitor.look();
      // Unreachable now: more looks only make the operator wait longer for that answer.
      if (monitor.kafkaUnreachable) break;
    }
    return await monitor.report();
  } finally {
    await monitor.close();
  }
}
