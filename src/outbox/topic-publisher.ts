import type { Kafka, Message } from 'kafkajs';
import type pg from 'pg';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { Backoff, abortableSleep } from '../backoff.js';
import { cloudEventHeaders, type OutboxRow } from './envelope.js';
import { KafkaSink, LeadershipLostError, isPermanentKafkaError, kafkaErrorTypes, messageBytes } from './kafka-sink.js';
import { LEASE_MS, type Leadership, type TopicLeadership } from './leadership.js';
import { AdaptiveLinger } from './linger.js';
import { MarkQueue } from './mark-queue.js';
import type { PublisherMetrics } from './metrics.js';
import { epochMs, type BatchStages, type StageRecorder } from './stage-trace.js';
import { claimBatch, markPublished, markRejected } from './store.js';

export interface TopicPublisherOptions {
  /** the topic as written in the outbox */
  topic: string;
  /** where it goes in Kafka (the topic behind the configured prefix) */
  kafkaTopic: string;
  pool: pg.Pool;
  kafka: Kafka;
  leadership: TopicLeadership;
  instance: string;
  batchSize: number;
  pollIntervalMs: number;
  maxMessageBytes: number;
  maxRequestBytes: number;
  /** the longest wait before a claim while events keep arriving (0: never wait) */
  lingerMs: number;
  metrics: PublisherMetrics;
  log: Logger;
  stageTrace?: StageRecorder;
}

/** A claim's rows and when it ran. */
interface Claim {
  rows: OutboxRow[];
  woken?: number;
  started: number;
  finished: number;
}

/**
 * Publishes one topic while this replica leads it: claim rows in id order, send them, mark them
 * published once Kafka acknowledged them. The next claim runs while a batch is in Kafka, and
 * marking runs while the next batch is sent; sends themselves are strictly sequential, so a key's
 * events never pass each other.
 */
export class TopicPublisher {
  private stopping = false;
  private readonly stopController = new AbortController();
  private wakePending = true;
  /** the first wake-up since the last claim started (for the stage trace) */
  private firstWakeAt: number | undefined;
  private wakeIdle: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private readonly log: Logger;
  // Bound to this topic once: a labelled lookup per row is a measurable share of a drain.
  private readonly publishLatency;
  private readonly publishedCount;

  constructor(private readonly options: TopicPublisherOptions) {
    this.log = options.log.child({ topic: options.topic });
    this.publishLatency = options.metrics.latency.labels({ topic: options.topic });
    this.publishedCount = options.metrics.published.labels({ topic: options.topic });
  }

  /** Called on the outbox NOTIFY (and when leadership is won): look for rows now. */
  wake(): void {
    this.wakePending = true;
    this.firstWakeAt ??= epochMs();
    this.wakeIdle?.();
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Finishes the batch in flight (send, acknowledgement, mark), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    this.wakeIdle?.();
    await this.running;
  }

  private async run(): Promise<void> {
    const { leadership, metrics, topic } = this.options;
    while (!this.stopping) {
      const lead = leadership.current(topic);
      if (!lead) {
        // A standby: winning the lock wakes this wait (OutboxPublisher relays 'acquired').
        await this.idle(this.options.pollIntervalMs, undefined, { ignorePendingWake: true });
        continue;
      }
      metrics.leader.set({ topic }, 1);
      try {
        await this.lead(lead);
      } catch (error) {
        // Only a failure to record a rejection gets here (database down); start over shortly.
        this.log.error({ err: errorMessage(error) }, 'publisher loop failed; restarting it');
        await abortableSleep(1_000, [this.stopController.signal, lead.signal]);
      } finally {
        metrics.leader.set({ topic }, 0);
      }
    }
  }

  private async idle(ms: number, signal?: AbortSignal, { ignorePendingWake = false } = {}): Promise<void> {
    if ((this.wakePending && !ignorePendingWake) || this.stopping) return;
    // Its own controller, so a wake-up also cancels the timer instead of leaving it behind.
    const woken = new AbortController();
    this.wakeIdle = () => woken.abort();
    await abortableSleep(ms, [woken.signal, this.stopController.signal, ...(signal ? [signal] : [])]);
    this.wakeIdle = undefined;
  }

  private async lead(lead: Leadership): Promise<void> {
    const { options, log } = this;
    const sink = new KafkaSink({
      kafka: options.kafka,
      topic: options.kafkaTopic,
      log,
      maxRequestBytes: options.maxRequestBytes,
    });
    const backoff = new Backoff();
    const waits = [lead.signal, this.stopController.signal];
    const sent = new Set<string>(); // acknowledged by Kafka, not yet marked published
    const marks = this.markQueue(lead);
    const linger = new AdaptiveLinger(options.lingerMs);
    let prefetch: Promise<Claim> | undefined;
    let open = false;
    const claim = (exclude: string[], woken?: number): Promise<Claim> => {
      const started = epochMs();
      return claimBatch(options.pool, options.topic, exclude, options.batchSize).then((rows) => ({
        rows,
        woken,
        started,
        finished: epochMs(),
      }));
    };
    const queueMark = (ids: string[], stages?: Omit<BatchStages, 'marked'>) => {
      for (const id of ids) sent.add(id);
      marks.add(ids, () => {
        for (const id of ids) sent.delete(id);
        if (stages) options.stageTrace?.record({ ...stages, marked: epochMs() });
      });
    };

    const fail = async (kind: 'kafka' | 'database', error: unknown) => {
      options.metrics.errors.inc({ topic: options.topic, kind });
      const failures = backoff.failures;
      if (failures === 0 || failures % 10 === 0) {
        const missingTopic = kafkaErrorTypes(error).includes('UNKNOWN_TOPIC_OR_PARTITION');
        log.warn(
          {
            err: errorMessage(error),
            kind,
            failures: failures + 1,
            ...(missingTopic ? { hint: `Kafka has no topic ${options.kafkaTopic}; create it (paymentsctl topics ensure)` } : {}),
          },
          'publishing failed; rows stay unpublished and are retried',
        );
      }
      prefetch = undefined;
      if (kind === 'kafka') {
        open = false;
        await sink.close();
      }
      await backoff.wait(waits);
    };

    try {
      while (!this.stopping && !lead.signal.aborted) {
        if (!open) {
          try {
            await sink.open();
            open = true;
          } catch (error) {
            await fail('kafka', error);
            continue;
          }
        }
        if (sent.size >= 2 * options.batchSize) {
          // Marks are falling behind (the database refuses writes): wait for them rather than let
          // the set of sent-but-unmarked rows, and every claim's exclusion list, grow without bound.
          prefetch = undefined;
          await marks.settled();
          continue;
        }
        let claimed: Claim;
        try {
          if (prefetch) {
            claimed = await prefetch;
            prefetch = undefined;
          } else {
            const delay = linger.delayMs(epochMs());
            if (delay > 0) await abortableSleep(delay, waits);
            // Cleared only before a fresh read: a prefetch may predate the NOTIFY that set it.
            this.wakePending = false;
            const woken = this.firstWakeAt;
            this.firstWakeAt = undefined;
            claimed = await claim([...sent], woken);
          }
        } catch (error) {
          await fail('database', error);
          continue;
        }
        let batch = claimed.rows;
        linger.observe(batch.length, claimed.started, batch.length === options.batchSize);
        if (batch.length === 0) {
          await this.idle(options.pollIntervalMs, lead.signal);
          continue;
        }
        const prepared = await this.setAsideOversized(batch, lead);
        batch = prepared.rows;
        if (batch.length === 0) continue;
        if (batch.length === options.batchSize) {
          // A full batch means a backlog: read the next one while this one is in Kafka.
          prefetch = claim([...sent, ...batch.map((r) => r.id)]);
          prefetch.catch(() => undefined);
        }
        let sendStarted: number;
        let requests: number;
        try {
          await this.holdLease(lead);
          sendStarted = epochMs();
          requests = await sink.publish(prepared.messages, lead.signal, prepared.sizes);
        } catch (error) {
          prefetch = undefined;
          if (error instanceof LeadershipLostError) break;
          if (!isPermanentKafkaError(error)) {
            await fail('kafka', error);
            continue;
          }
          const transient = await this.isolateRejected(batch, sink, lead, (ids) => queueMark(ids));
          if (transient !== undefined) await fail('kafka', transient);
          continue;
        }
        backoff.reset();
        this.recordPublished(batch);
        const ids = batch.map((row) => row.id);
        queueMark(
          ids,
          options.stageTrace && {
            topic: options.topic,
            eventIds: batch.map((row) => row.eventId),
            woken: claimed.woken,
            claimStarted: claimed.started,
            claimed: claimed.finished,
            sendStarted,
            acknowledged: epochMs(),
            requests,
          },
        );
      }
    } finally {
      await marks.settled();
      await sink.close();
    }
  }

  /**
   * Marks rows published after Kafka acknowledged them, in order, retrying until it succeeds. It
   * gives up when leadership ends or the process stops: the next leader then sends those rows
   * again, a duplicate, never a loss.
   */
  private markQueue(lead: Leadership): MarkQueue {
    const backoff = new Backoff();
    return new MarkQueue({
      mark: async (ids) => {
        await markPublished(this.options.pool, ids);
        backoff.reset();
      },
      retry: async (error, failures, rows) => {
        this.options.metrics.errors.inc({ topic: this.options.topic, kind: 'database' });
        if (failures === 0) this.log.warn({ err: errorMessage(error), rows }, 'marking rows published failed; retrying');
        if (lead.signal.aborted || this.stopping) return false;
        await backoff.wait([lead.signal, this.stopController.signal]);
        return true;
      },
    });
  }

  /** Waits until the lock connection has answered recently; gives up when leadership ends. */
  private async holdLease(lead: Leadership): Promise<void> {
    while (!this.options.leadership.confirmedWithin(LEASE_MS)) {
      if (lead.signal.aborted) throw new LeadershipLostError(String((lead.signal.reason as Error | undefined)?.message ?? 'aborted'));
      await abortableSleep(20, [lead.signal]);
    }
  }

  private toMessages(batch: OutboxRow[], lead: Leadership): Message[] {
    const publisher = { instance: this.options.instance, term: lead.term };
    return batch.map((row) => ({ key: row.key, value: row.payload, headers: cloudEventHeaders(row, publisher) }));
  }

  private recordPublished(batch: OutboxRow[]): void {
    const now = Date.now();
    this.publishedCount.inc(batch.length);
    for (const row of batch) this.publishLatency.observe((now - row.createdAt.getTime()) / 1000);
  }

  /**
   * The batch's messages, each built and measured once; rows larger than Kafka accepts are set
   * aside before sending, with the later rows of their key.
   */
  private async setAsideOversized(
    batch: OutboxRow[],
    lead: Leadership,
  ): Promise<{ rows: OutboxRow[]; messages: Message[]; sizes: number[] }> {
    const messages = this.toMessages(batch, lead);
    const sizes = messages.map(messageBytes);
    if (sizes.every((bytes) => bytes <= this.options.maxMessageBytes)) return { rows: batch, messages, sizes };
    const heldKeys = new Set<string>();
    const kept = { rows: [] as OutboxRow[], messages: [] as Message[], sizes: [] as number[] };
    for (const [index, row] of batch.entries()) {
      if (heldKeys.has(row.key)) continue;
      const bytes = sizes[index]!;
      if (bytes > this.options.maxMessageBytes) {
        await this.reject(row, `record of ${bytes} bytes exceeds the ${this.options.maxMessageBytes}-byte limit (--max-message-bytes)`);
        heldKeys.add(row.key);
        continue;
      }
      kept.rows.push(row);
      kept.messages.push(messages[index]!);
      kept.sizes.push(bytes);
    }
    return kept;
  }

  /**
   * Kafka refused a batch for good: send its rows one at a time, in order, to find the refused
   * ones; set those aside and hold back the rest of their key. Returns a transient error that
   * interrupted it, if any (the rows not sent stay unpublished for the next round).
   *
   * kafkajs rolls back the sequence numbers of every partition of a failed request, even those
   * the broker wrote, so each failure is followed by a new producer (a new producer id) before
   * anything else is sent; a reused one could have a later row dropped as a "duplicate".
   */
  private async isolateRejected(
    batch: OutboxRow[],
    sink: KafkaSink,
    lead: Leadership,
    published: (ids: string[]) => void,
  ): Promise<unknown> {
    const heldKeys = new Set<string>();
    try {
      await sink.reopen();
      for (const row of batch) {
        if (heldKeys.has(row.key)) continue;
        if (lead.signal.aborted || this.stopping) return undefined;
        try {
          await this.holdLease(lead);
          await sink.publish(this.toMessages([row], lead), lead.signal);
          this.recordPublished([row]);
          published([row.id]);
        } catch (error) {
          if (error instanceof LeadershipLostError) return undefined;
          if (!isPermanentKafkaError(error)) return error;
          await this.reject(row, `Kafka rejected the record: ${errorMessage(error)}`);
          heldKeys.add(row.key);
          await sink.reopen();
        }
      }
    } catch (error) {
      return error; // reopening failed
    }
    return undefined;
  }

  private async reject(row: OutboxRow, reason: string): Promise<void> {
    this.options.metrics.rejected.inc({ topic: this.options.topic });
    this.log.error(
      { eventId: row.eventId, id: row.id, key: row.key, reason },
      'outbox row set aside: Kafka will not accept it; later events of its key are held back until an operator fixes or deletes it',
    );
    await markRejected(this.options.pool, row.id, reason);
  }
}
