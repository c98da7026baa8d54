import { Partitioners, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import pLimit, { type LimitFunction } from 'p-limit';
import type pg from 'pg';
import { Backoff, abortableSleep } from '../backoff.js';
import type { Logger } from '../log.js';
import type { InboxCommitter } from '../payments/inbox-commit.js';
import type { PaymentRow } from '../payments/row.js';
import { loadPayments, processedMessageIds } from '../payments/store.js';
import { deadLetterTopic, retryTopic } from '../kafka/topics.js';
import { classifyFailure, describeError, InvalidMessageError } from './failures.js';
import type { InboundMessage, TopicHandler } from './handler.js';
import {
  attemptsOf,
  decodeHeaders,
  dueAtOf,
  failureHeaders,
  isAddressedTo,
  messageIdOf,
  originOf,
  type FailureDetails,
} from './headers.js';
import type { WorkerMetrics } from './metrics.js';
import { dispositionAfter } from './retry-policy.js';

/** How a consumed Kafka topic maps to its handler: level 0 is the main topic, n its `.retry.n`. */
export interface Route {
  handler: TopicHandler;
  /** the main topic's Kafka name (prefix included); retry and dead-letter names derive from it */
  mainTopic: string;
  level: number;
}

export interface WorkerConsumerOptions {
  kafka: Kafka;
  groupId: string;
  /** per consumed Kafka topic, every handler that reads it (each with its own inbox consumer) */
  routes: Map<string, Route[]>;
  retryDelaysMs: readonly number[];
  /** messages handled at once across all partitions (one key's messages always in order) */
  concurrency: number;
  sessionTimeoutMs: number;
  pool: pg.Pool;
  /** commits each message's decision with its inbox row */
  committer: InboxCommitter;
  log: Logger;
  metrics: WorkerMetrics;
}

interface Parsed {
  raw: KafkaMessage;
  message: InboundMessage;
  data?: unknown;
  invalid?: string;
  aggregateId?: string;
  /** false: a retry copy or dead letter another handler of the topic failed; not ours to handle */
  addressed: boolean;
}

type Settled = 'done' | 'abandoned';

/**
 * The consumer-group engine under every handler. Per batch it parses and validates, reads the
 * inbox and payments rows once, runs messages of different keys concurrently (one key's in order),
 * and only then resolves offsets (committed by kafkajs after the batch): a crash at any point
 * redelivers, and the inbox makes that harmless. A failure goes to the next retry topic or the
 * dead letters before its offset is resolved, so no message is lost in between. Retry topics are
 * read only as their messages fall due: the partition is paused until then, which holds nothing
 * else up and leaves the message in Kafka if the worker dies while it waits. A topic several
 * handlers read (payments.failed: saga and history) is handled by each of them on its own, and a
 * message's offset moves once all are done; a retry copy goes back only to the handler that failed.
 */
export class WorkerConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly limit: LimitFunction;
  private readonly stopping = new AbortController();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private joined = false;
  private crashed: Error | undefined;
  private onFatal: ((error: Error) => void) | undefined;

  constructor(private readonly options: WorkerConsumerOptions) {
    this.limit = pLimit(options.concurrency);
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: 250,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(options.sessionTimeoutMs / 3)),
      retry: { retries: 10 },
    });
    this.producer = options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const { GROUP_JOIN, CRASH, REBALANCING } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      this.joined = true;
      this.options.metrics.lag.reset();
      options.log.info({ group: options.groupId, memberId: payload.memberId, assigned: payload.memberAssignment }, 'joined consumer group');
    });
    this.consumer.on(REBALANCING, () => options.log.info({ group: options.groupId }, 'consumer group rebalancing'));
    this.consumer.on(CRASH, ({ payload }) => {
      options.log.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
      if (!payload.restart) {
        this.crashed = payload.error;
        this.onFatal?.(payload.error);
      }
    });
  }

  /** Ready once it has joined its group and until it crashes for good. */
  isReady(): boolean {
    return this.joined && !this.crashed;
  }

  /**
   * Called if the consumer stops for good on its own (the process should then exit non-zero) —
   * also if that already happened: kafkajs reports a failure to join the group as a crash after
   * `run()` has resolved, so it can come before anyone listens.
   */
  onFailure(listener: (error: Error) => void): void {
    this.onFatal = listener;
    const crashed = this.crashed;
    if (crashed) setImmediate(() => listener(crashed));
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.routes.keys()], fromBeginning: true });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, Math.min(8, this.options.concurrency)),
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Finishes the messages in flight, commits their offsets, leaves the group. */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    await this.consumer.disconnect().catch((error) => this.options.log.warn({ err: error }, 'consumer disconnect failed'));
    await this.producer.disconnect().catch((error) => this.options.log.warn({ err: error }, 'producer disconnect failed'));
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }: EachBatchPayload): Promise<void> {
    const routes = this.options.routes.get(batch.topic);
    if (!routes?.length || batch.messages.length === 0) return;
    const { metrics } = this.options;
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));

    let messages = batch.messages;
    let notDueUntil: number | undefined;
    // Every route of one Kafka topic has the same level: it is part of the topic's name.
    if (routes[0]!.level > 0) {
      const now = Date.now();
      const firstNotDue = messages.findIndex((m) => (dueAtOf(decodeHeaders(m.headers)) ?? 0) > now);
      if (firstNotDue >= 0) {
        notDueUntil = dueAtOf(decodeHeaders(messages[firstNotDue]!.headers));
        messages = messages.slice(0, firstNotDue);
      }
    }

    // A failed heartbeat means the group is rebalancing: finish what runs, start nothing more, and
    // let kafkajs rejoin once the handled offsets are resolved.
    let heartbeatError: unknown;
    const beat = async () => {
      try {
        await heartbeat();
      } catch (error) {
        heartbeatError ??= error;
      }
    };
    const live = () => heartbeatError === undefined && isRunning() && !isStale() && !this.stopping.signal.aborted;
    if (messages.length > 0) {
      const byRoute = await Promise.all(routes.map((route) => this.handleBatch(route, batch.topic, batch.partition, messages, live, beat)));
      // A message is done once every handler of its topic is done with it.
      const settled = messages.map((_, i) => (byRoute.every((route) => route?.[i] === 'done') ? 'done' : 'abandoned'));
      // Offsets move only over a run of handled messages from the start of the batch.
      let last: string | undefined;
      for (let i = 0; i < messages.length && settled[i] === 'done'; i++) last = messages[i]!.offset;
      if (last !== undefined) resolveOffset(last);
      if (heartbeatError !== undefined) throw heartbeatError;
      if (settled.some((s) => s !== 'done')) return;
    }

    if (notDueUntil !== undefined && live()) {
      // Fetching resumes from the first unresolved offset: the message not yet due.
      const resume = pause();
      metrics.waitingRetryPartitions.inc();
      const timer = setTimeout(
        () => {
          this.resumeTimers.delete(timer);
          metrics.waitingRetryPartitions.dec();
          resume();
        },
        Math.max(0, notDueUntil - Date.now()),
      );
      this.resumeTimers.add(timer);
    }
  }

  /** One handler's pass over a batch: how each message settled, or undefined when the consumer stopped first. */
  private async handleBatch(
    route: Route,
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    live: () => boolean,
    beat: () => Promise<void>,
  ): Promise<Settled[] | undefined> {
    const parsed = messages.map((raw) => this.parse(topic, partition, raw, route));
    const hints = await this.withInfrastructureRetry(route, live, () => this.readHints(route, parsed));
    if (!hints) return undefined;
    return this.runByKey(parsed, async (item) => {
      const outcome = await this.handleOne(route, item, hints, live, beat);
      await beat();
      return outcome;
    });
  }

  private parse(topic: string, partition: number, raw: KafkaMessage, route: Route): Parsed {
    const headers = decodeHeaders(raw.headers);
    const origin = originOf({ topic, partition, offset: raw.offset, timestamp: Number(raw.timestamp) }, headers);
    const ceTime = headers.ce_time ? Date.parse(headers.ce_time) : NaN;
    const message: InboundMessage = {
      topic,
      partition,
      offset: raw.offset,
      headers,
      messageId: messageIdOf(headers, origin),
      attempts: attemptsOf(headers),
      eventTime: new Date(Number.isFinite(ceTime) ? Math.min(ceTime, origin.timestamp) : origin.timestamp),
    };
    const addressed = isAddressedTo(headers, route.handler.consumer);
    if (!addressed) return { raw, message, addressed };
    if (!raw.value || raw.value.length === 0) return { raw, message, addressed, invalid: 'the message has no value' };
    let json: unknown;
    try {
      json = JSON.parse(raw.value.toString('utf8'));
    } catch (error) {
      return { raw, message, addressed, invalid: `the value is not JSON: ${describeError(error)}` };
    }
    const result = route.handler.schema.safeParse(json);
    if (!result.success) {
      const issues = result.error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ');
      return { raw, message, addressed, invalid: `the ${route.handler.topic} event fails its schema: ${issues}` };
    }
    return { raw, message, addressed, data: result.data, aggregateId: route.handler.aggregateOf(result.data) };
  }

  private async readHints(route: Route, parsed: Parsed[]) {
    const valid = parsed.filter((p) => p.data !== undefined && p.addressed);
    const [processed, payments] = await Promise.all([
      processedMessageIds(
        this.options.pool,
        route.handler.consumer,
        valid.map((p) => p.message.messageId),
      ),
      loadPayments(this.options.pool, [...new Set(valid.map((p) => p.aggregateId!))]),
    ]);
    return { processed, payments };
  }

  /** Runs `work` for every message: one key's messages in batch order, different keys concurrently. */
  private async runByKey(parsed: Parsed[], work: (item: Parsed) => Promise<Settled>): Promise<Settled[]> {
    const settled: Settled[] = new Array(parsed.length).fill('abandoned');
    const byKey = new Map<string, number[]>();
    parsed.forEach((item, index) => {
      const key = item.raw.key?.toString() ?? `\0${index}`;
      byKey.set(key, [...(byKey.get(key) ?? []), index]);
    });
    await Promise.all(
      [...byKey.values()].map(async (indexes) => {
        for (const index of indexes) {
          settled[index] = await this.limit(() => work(parsed[index]!));
          if (settled[index] !== 'done') return;
        }
      }),
    );
    return settled;
  }

  private async handleOne(
    route: Route,
    item: Parsed,
    hints: { processed: Set<string>; payments: Map<string, PaymentRow> },
    live: () => boolean,
    heartbeat: () => Promise<void>,
  ): Promise<Settled> {
    if (!live()) return 'abandoned';
    if (!item.addressed) return 'done';
    const { handler } = route;
    const { metrics, log } = this.options;
    const labels = { handler: handler.name, topic: handler.topic };
    if (item.invalid !== undefined) {
      log.warn(
        { topic: item.message.topic, partition: item.message.partition, offset: item.message.offset, reason: item.invalid },
        'invalid message: dead-lettering it',
      );
      return this.forward(route, item, new InvalidMessageError(item.invalid), live, 'invalid_message');
    }
    if (hints.processed.has(item.message.messageId)) {
      metrics.processed.inc({ ...labels, result: 'duplicate' });
      return 'done';
    }
    let known = hints.payments.get(item.aggregateId!);
    const backoff = new Backoff(200, 30_000);
    for (;;) {
      const timer = metrics.handlerSeconds.startTimer({ handler: handler.name });
      try {
        const result = await this.apply(handler, item, known);
        timer();
        metrics.processed.inc({ ...labels, result });
        log.debug(
          {
            topic: item.message.topic,
            offset: item.message.offset,
            messageId: item.message.messageId,
            aggregateId: item.aggregateId,
            result,
          },
          'handled',
        );
        return 'done';
      } catch (error) {
        timer();
        const kind = classifyFailure(error);
        metrics.failed.inc({ ...labels, kind });
        if (kind !== 'infrastructure') return this.forward(route, item, error, live, kind);
        log.warn(
          { err: error, topic: item.message.topic, offset: item.message.offset, aggregateId: item.aggregateId },
          'cannot reach the database or Kafka; retrying in place',
        );
        await backoff.wait([this.stopping.signal]);
        if (!live()) return 'abandoned';
        await heartbeat();
        known = await loadPayments(this.options.pool, [item.aggregateId!])
          .then((rows) => rows.get(item.aggregateId!))
          .catch(() => known);
      }
    }
  }

  /** The handler's work, then its decision committed once with the inbox row: the result, or 'duplicate'. */
  private async apply(handler: TopicHandler, item: Parsed, known: PaymentRow | undefined): Promise<string> {
    const arrived = this.options.committer.beginPreparing();
    let decide;
    try {
      decide = await handler.prepare(item.data, item.message, known);
    } catch (error) {
      arrived();
      throw error;
    }
    const inbox = { consumer: handler.consumer, messageId: item.message.messageId };
    // Queued first, then no longer on its way: a transaction waiting for it starts with it.
    const submitted = this.options.committer.submit(inbox, item.aggregateId!, decide);
    arrived();
    const committed = await submitted;
    if (committed.duplicate) return 'duplicate';
    if (committed.value.skipped) {
      this.options.log.warn(
        { topic: item.message.topic, messageId: item.message.messageId, aggregateId: item.aggregateId, reason: committed.value.skipped },
        `${handler.name}: skipped a message (${committed.value.result})`,
      );
    }
    return committed.value.result;
  }

  /** Sends a failed message on to its next retry topic or to the dead letters. */
  private async forward(
    route: Route,
    item: Parsed,
    error: unknown,
    live: () => boolean,
    kind: 'transient' | 'permanent' | 'invalid_message',
  ): Promise<Settled> {
    const attempts = item.message.attempts + 1;
    const now = Date.now();
    const origin = originOf(
      { topic: route.mainTopic, partition: item.message.partition, offset: item.message.offset, timestamp: Number(item.raw.timestamp) },
      item.message.headers,
    );
    const details: FailureDetails = {
      origin,
      consumer: route.handler.consumer,
      attempts,
      error: describeError(error),
      errorKind: kind,
      now,
    };
    const disposition =
      kind === 'transient' ? dispositionAfter(attempts, this.options.retryDelaysMs) : ({ action: 'dead-letter' } as const);
    let topic: string;
    if (disposition.action === 'retry') {
      topic = retryTopic(route.mainTopic, disposition.level);
      details.dueAt = now + disposition.delayMs;
    } else {
      topic = deadLetterTopic(route.mainTopic);
      details.deadLetterReason = kind === 'transient' ? 'retries_exhausted' : kind === 'permanent' ? 'permanent_error' : 'invalid_message';
    }
    const headers = failureHeaders(item.message.headers, details);
    const sent = await this.withInfrastructureRetry(route, live, () =>
      this.producer.send({ topic, acks: -1, messages: [{ key: item.raw.key, value: item.raw.value, headers }] }),
    );
    if (!sent) return 'abandoned';
    const { metrics, log } = this.options;
    const context = {
      topic: item.message.topic,
      offset: item.message.offset,
      messageId: item.message.messageId,
      aggregateId: item.aggregateId,
      attempts,
      to: topic,
      error: details.error,
    };
    if (disposition.action === 'retry') {
      metrics.retried.inc({ topic: route.handler.topic, level: String(disposition.level) });
      log.info({ ...context, dueAt: new Date(details.dueAt!).toISOString() }, 'will retry');
    } else {
      metrics.deadLettered.inc({ topic: route.handler.topic, reason: details.deadLetterReason! });
      log.error({ ...context, reason: details.deadLetterReason }, 'dead-lettered');
    }
    return 'done';
  }

  /** Repeats `fn` while our own infrastructure fails, until it works or the consumer stops. */
  private async withInfrastructureRetry<T>(route: Route, live: () => boolean, fn: () => Promise<T>): Promise<T | undefined> {
    const backoff = new Backoff(200, 30_000);
    for (;;) {
      try {
        return await fn();
      } catch (error) {
        this.options.log.warn({ err: error, topic: route.handler.topic }, 'cannot reach the database or Kafka; retrying in place');
        await abortableSleep(backoff.nextDelayMs(), [this.stopping.signal]);
        if (!live()) return undefined;
      }
    }
  }
}
