import type { Admin, ITopicConfig } from 'kafkajs';
import { Topics } from '../contracts.js';
import { waitForTopicLeaders } from './leaders.js';

/** Topics a worker consumes; each gets `.retry.<n>` and `.dlq` topics. */
export const CONSUMED_TOPICS: readonly string[] = [
  Topics.ordersPlaced,
  Topics.checkoutRequested,
  Topics.paymentsFailed,
  Topics.ordersCancelled,
  // read by the history handler
  Topics.paymentsCompleted,
  Topics.paymentsRefunded,
];

/** Broker-level retry delays: attempt n waits DEFAULT_RETRY_DELAYS_MS[n-1] in `<topic>.retry.<n>`. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1_000, 4_000, 16_000];

export const retryTopic = (topic: string, attempt: number) => `${topic}.retry.${attempt}`;
export const deadLetterTopic = (topic: string) => `${topic}.dlq`;

export type TopicRole = 'main' | 'retry' | 'dlq';

export interface TopicSpec {
  name: string;
  role: TopicRole;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
}

export interface TopicPlanOptions {
  prefix?: string;
  partitions: number;
  replicationFactor: number;
  retryLevels?: number;
}

export function plannedTopics(options: TopicPlanOptions): TopicSpec[] {
  const prefix = options.prefix ?? '';
  const retryLevels = options.retryLevels ?? DEFAULT_RETRY_DELAYS_MS.length;
  // With three or more replicas an acknowledged write must survive the loss of one broker.
  const durability: Record<string, string> = options.replicationFactor >= 3 ? { 'min.insync.replicas': '2' } : {};
  const spec = (name: string, role: TopicRole, extra: Record<string, string> = {}): TopicSpec => ({
    name: prefix + name,
    role,
    partitions: options.partitions,
    replicationFactor: options.replicationFactor,
    configs: { ...durability, ...extra },
  });
  const topics: TopicSpec[] = Object.values(Topics).map((name) => spec(name, 'main'));
  for (const consumed of CONSUMED_TOPICS) {
    for (let attempt = 1; attempt <= retryLevels; attempt++) topics.push(spec(retryTopic(consumed, attempt), 'retry'));
    // A dead letter is a payment someone must look at: never expire it by time.
    topics.push(spec(deadLetterTopic(consumed), 'dlq', { 'retention.ms': '-1' }));
  }
  return topics;
}

/** Replication that fits the cluster: the requested factor, at most the number of brokers, default min(3, brokers). */
export function fittingReplicationFactor(brokerCount: number, requested?: number): number {
  if (requested !== undefined) return requested;
  return Math.max(1, Math.min(3, brokerCount));
}

export interface ExistingTopic {
  name: string;
  partitions: number;
}

export interface EnsureTopicsResult {
  created: TopicSpec[];
  existing: ExistingTopic[];
  /** existing topics with fewer partitions than asked for; reported, never changed automatically */
  underPartitioned: ExistingTopic[];
}

/** Creates whichever planned topics are missing. Idempotent: a second run creates nothing. */
export async function ensureTopics(admin: Admin, planned: TopicSpec[]): Promise<EnsureTopicsResult> {
  const names = new Set(await admin.listTopics());
  const missing = planned.filter((topic) => !names.has(topic.name));
  if (missing.length) {
    const topics: ITopicConfig[] = missing.map((topic) => ({
      topic: topic.name,
      numPartitions: topic.partitions,
      replicationFactor: topic.replicationFactor,
      configEntries: Object.entries(topic.configs).map(([name, value]) => ({ name, value })),
    }));
    try {
      await admin.createTopics({ topics, waitForLeaders: false });
    } catch (error) {
      // kafkajs answers false when every topic already exists, but throws when only some were
      // created meanwhile by another caller; topic by topic, each of those answers false.
      if (!(error instanceof Error && error.name === 'KafkaJSAggregateError')) throw error;
      for (const topic of topics) await admin.createTopics({ topics: [topic], waitForLeaders: false });
    }
    await waitForTopicLeaders(
      admin,
      missing.map((topic) => topic.name),
    );
  }
  const present = planned.filter((topic) => names.has(topic.name));
  const metadata = present.length ? await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) }) : { topics: [] };
  const existing = metadata.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.length }));
  const wanted = new Map(planned.map((topic) => [topic.name, topic.partitions]));
  return {
    created: missing,
    existing,
    underPartitioned: existing.filter((topic) => topic.partitions < (wanted.get(topic.name) ?? 0)),
  };
}

/**
 * Deletes topics and returns once the broker no longer lists them. Deletion is asynchronous in
 * Kafka: a delete request can time out on a busy controller, or be answered before the metadata
 * drops the topic, so the request is repeated for whatever is still listed until the deadline.
 * Returns the topics still present at the deadline (empty when all are gone).
 */
export async function deleteTopicsAndWait(admin: Admin, topics: readonly string[], timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let remaining = [...topics];
  for (;;) {
    const listed = new Set(await admin.listTopics());
    remaining = remaining.filter((topic) => listed.has(topic));
    if (remaining.length === 0 || Date.now() >= deadline) return remaining;
    await admin.deleteTopics({ topics: remaining, timeout: 10_000 }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
