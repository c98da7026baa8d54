import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { createPool } from '../db/connect.js';
import { createKafka, isSaslAuthenticationError, kafkaConnectError } from '../kafka/client.js';
import type { KafkaSecurity } from '../kafka/security.js';
import { Topics } from '../contracts.js';
import { errorMessage } from '../errors.js';
import { abortableSleep } from '../backoff.js';
import { TopicLeadership } from './leadership.js';
import { createPublisherMetrics, type PublisherMetrics } from './metrics.js';
import { backlog, deletePublishedBefore, unpublishedTopics } from './store.js';
import { StageTraceFile } from './stage-trace.js';
import { TopicPublisher } from './topic-publisher.js';
import { Readiness } from '../webhook/readiness.js';

export interface PublisherOptions {
  databaseUrl: string;
  brokers: string[];
  /** TLS and SASL for Kafka (config.ts `kafkaSecurity`); default PLAINTEXT */
  kafkaSecurity?: KafkaSecurity;
  /** topics to publish; undefined = every topic found in the outbox plus the pipeline's own */
  topics?: string[];
  topicPrefix?: string;
  batchSize?: number;
  pollIntervalMs?: number;
  /** published rows older than this are deleted; 0 keeps them */
  retainMs?: number;
  maxMessageBytes?: number;
  /** the longest wait before a claim while events keep arriving, to send them in one request */
  lingerMs?: number;
  /** append each batch's stage timings to this file (JSON lines), for latency analysis */
  stageTraceFile?: string;
  /** how often a standby tries to take over a topic */
  takeoverIntervalMs?: number;
  instance?: string;
  registry: Registry;
  log: Logger;
}

export const PUBLISHER_DEFAULTS = {
  // Behind a backlog, 4,000 rows a claim drained 18% faster than 2,000, with a quarter less
  // PostgreSQL CPU per event (bench/outbox, alternating runs): a claim and its mark cost per round.
  batchSize: 4000,
  pollIntervalMs: 1000,
  retainMs: 24 * 3_600_000,
  // Kafka's default message.max.bytes (1 MiB) less room for the batch framing.
  maxMessageBytes: 1_000_000,
  maxRequestBytes: 900_000,
  lingerMs: 6,
  takeoverIntervalMs: 500,
  discoveryIntervalMs: 5_000,
  retentionBatch: 1_000,
} as const;

/**
 * The publish-outbox role: leadership per topic, one TopicPublisher per topic, retention of
 * published rows, and the metrics that go with them.
 */
export class OutboxPublisher {
  readonly instance: string;
  private readonly pool;
  private readonly kafka;
  private readonly leadership: TopicLeadership;
  private readonly publishers = new Map<string, TopicPublisher>();
  private readonly metrics: PublisherMetrics;
  private readonly stopController = new AbortController();
  private readonly background: Promise<void>[] = [];
  private readonly log: Logger;
  private readonly reachability: Readiness;
  private readonly stageTrace: StageTraceFile | undefined;

  constructor(private readonly options: PublisherOptions) {
    this.instance = options.instance ?? `${process.env.HOSTNAME || hostname()}-${process.pid}`;
    this.log = options.log.child({ instance: this.instance });
    this.pool = createPool(options.databaseUrl, {
      applicationName: 'paymentsctl publish-outbox',
      log: this.log,
      max: 10,
      // This pool only reads rows and marks them published. A mark lost to a server crash means
      // the rows are sent again (a duplicate, never a loss), so it need not wait for the WAL flush.
      settings: { synchronous_commit: 'off' },
    });
    // A bounded request timeout bounds how long a send can outlive the leader's lease (see leadership.ts).
    this.kafka = createKafka({
      brokers: options.brokers,
      log: this.log,
      clientId: `paymentsctl-outbox-${this.instance}`,
      requestTimeoutMs: 10_000,
      security: options.kafkaSecurity,
    });
    this.leadership = new TopicLeadership({
      databaseUrl: options.databaseUrl,
      log: this.log,
      checkIntervalMs: options.takeoverIntervalMs ?? PUBLISHER_DEFAULTS.takeoverIntervalMs,
    });
    this.reachability = new Readiness({
      pool: this.pool,
      brokers: options.brokers,
      kafkaSecurity: options.kafkaSecurity,
      log: this.log,
      logChanges: false,
    });
    this.stageTrace = options.stageTraceFile ? new StageTraceFile(options.stageTraceFile) : undefined;
    this.metrics = createPublisherMetrics(options.registry, () => backlog(this.pool, [...this.publishers.keys()]));
    this.leadership.on('notify', this.onNotify);
    this.leadership.on('acquired', (lead) => this.publishers.get(lead.topic)?.wake());
  }

  private readonly onNotify = (topic: string): void => {
    const publisher = this.publishers.get(topic);
    if (publisher) publisher.wake();
    else if (!this.options.topics) this.addTopics([topic]);
  };

  async start(): Promise<void> {
    await this.checkCredentials();
    this.addTopics(this.options.topics ?? Object.values(Topics));
    this.leadership.start();
    if (!this.options.topics) this.background.push(this.discoverTopics());
    const retainMs = this.options.retainMs ?? PUBLISHER_DEFAULTS.retainMs;
    if (retainMs > 0) this.background.push(this.retention(retainMs));
  }

  /**
   * A publisher rides out a broker that is down, but no retry cures rejected credentials: with SASL
   * it connects once before anything else and stops at once, naming the setting, if they are refused.
   */
  private async checkCredentials(): Promise<void> {
    const security = this.options.kafkaSecurity;
    if (!security?.sasl) return;
    const admin = createKafka({
      brokers: this.options.brokers,
      clientId: `paymentsctl-outbox-${this.instance}`,
      security,
      retries: 0,
    }).admin();
    try {
      await admin.connect();
    } catch (error) {
      if (isSaslAuthenticationError(error)) throw kafkaConnectError(error, this.options.brokers, security);
      this.log.warn({ err: errorMessage(error) }, 'Kafka not reachable yet; publishing starts once it is');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Ready once the lock/notify connection is up: a standby is a healthy replica too. */
  isReady(): boolean {
    return this.leadership.connected;
  }

  leading(): string[] {
    return this.leadership.leading();
  }

  dependencies(): Promise<Record<string, string>> {
    return this.reachability.dependencies();
  }

  private addTopics(topics: string[]): void {
    // A publisher started during shutdown would never be stopped, and would keep the process alive.
    if (this.stopController.signal.aborted) return;
    const prefix = this.options.topicPrefix ?? '';
    let added = false;
    for (const topic of topics) {
      if (this.publishers.has(topic)) continue;
      const kafkaTopic = prefix + topic;
      const publisher = new TopicPublisher({
        topic,
        kafkaTopic,
        pool: this.pool,
        kafka: this.kafka,
        leadership: this.leadership,
        instance: this.instance,
        batchSize: this.options.batchSize ?? PUBLISHER_DEFAULTS.batchSize,
        pollIntervalMs: this.options.pollIntervalMs ?? PUBLISHER_DEFAULTS.pollIntervalMs,
        maxMessageBytes: this.options.maxMessageBytes ?? PUBLISHER_DEFAULTS.maxMessageBytes,
        maxRequestBytes: PUBLISHER_DEFAULTS.maxRequestBytes,
        lingerMs: this.options.lingerMs ?? PUBLISHER_DEFAULTS.lingerMs,
        metrics: this.metrics,
        log: this.log,
        stageTrace: this.stageTrace,
      });
      this.publishers.set(topic, publisher);
      this.metrics.leader.set({ topic }, 0);
      publisher.start();
      added = true;
    }
    if (added) this.leadership.setTopics([...this.publishers.keys()]);
  }

  /** With --all-topics: pick up topics that appear in the outbox (NOTIFY catches most at once). */
  private async discoverTopics(): Promise<void> {
    while (!this.stopController.signal.aborted) {
      try {
        this.addTopics(await unpublishedTopics(this.pool));
      } catch (error) {
        this.log.debug({ err: errorMessage(error) }, 'topic discovery failed; retrying');
      }
      await abortableSleep(PUBLISHER_DEFAULTS.discoveryIntervalMs, [this.stopController.signal]);
    }
  }

  /** Deletes published rows past the window for the topics this replica leads, in small batches. */
  private async retention(retainMs: number): Promise<void> {
    const everyMs = Math.min(60_000, Math.max(1_000, Math.floor(retainMs / 4)));
    // The first pass soon after start (once leadership is settled), then periodically.
    let waitMs = Math.min(everyMs, 2_000);
    while (!this.stopController.signal.aborted) {
      await abortableSleep(waitMs, [this.stopController.signal]);
      waitMs = everyMs;
      const topics = this.leadership.leading();
      if (topics.length === 0 || this.stopController.signal.aborted) continue;
      try {
        const deleted = await deletePublishedBefore(
          this.pool,
          topics,
          retainMs,
          PUBLISHER_DEFAULTS.retentionBatch,
          () => this.stopController.signal.aborted,
        );
        if (deleted) {
          this.metrics.retentionDeleted.inc(deleted);
          this.log.info({ deleted, topics }, 'retention deleted published outbox rows');
        }
      } catch (error) {
        this.log.warn({ err: errorMessage(error) }, 'retention failed; will retry');
      }
    }
  }

  /** Finishes in-flight batches, releases every lock (a standby takes over at once), disconnects. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.leadership.off('notify', this.onNotify);
    await Promise.all([...this.publishers.values()].map((publisher) => publisher.stop()));
    await this.leadership.stop();
    await Promise.all(this.background);
    await this.reachability.close();
    await this.stageTrace?.close();
    await this.pool.end().catch(() => undefined);
  }
}
