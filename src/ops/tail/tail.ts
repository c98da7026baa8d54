import type { Admin } from 'kafkajs';
import { UnavailableError, UsageError, errorMessage } from '../../errors.js';
import { createKafka } from '../../kafka/client.js';
import type { KafkaSecurity } from '../../kafka/security.js';
import { readPartitions, type PartitionRead } from '../../kafka/reader.js';
import type { Logger } from '../../log.js';
import { matchesEnvelope, matchesValue, type TailFilters } from './filters.js';
import { globMatches, isGlob } from './glob.js';
import { toTailRecord, type TailRecord } from './record.js';
import { startOffset, type StartSpec } from './start.js';

export interface TailOptions {
  brokers: string[];
  kafkaSecurity?: KafkaSecurity;
  /** the deployment's topic prefix, put in front of every name and glob */
  prefix: string;
  /** names or globs, without the prefix */
  topics: string[];
  /** every topic under the prefix */
  all?: boolean;
  /** every dead-letter topic under the prefix */
  dlq?: boolean;
  start: StartSpec;
  follow: boolean;
  /** stop after this many shown messages */
  count?: number;
  /** show nothing written after this time (ms since the epoch); with follow, stop once it has passed */
  untilMs?: number;
  filters: TailFilters;
  onRecord: (record: TailRecord) => void;
  signal?: AbortSignal;
  log?: Logger;
  now?: () => number;
}

export interface TailSummary {
  topics: string[];
  shown: number;
  /** messages read but not shown (filters, --until) */
  skipped: number;
  groupId: string;
  groupDeleted: boolean;
}

/** The topics a tail reads: by name, by glob, every one, or every dead-letter topic. */
export function resolveTopics(existing: readonly string[], options: Pick<TailOptions, 'prefix' | 'topics' | 'all' | 'dlq'>): string[] {
  const visible = existing.filter((topic) => !topic.startsWith('__') && topic.startsWith(options.prefix)).sort();
  const chosen = new Set<string>();
  if (options.all) visible.forEach((topic) => chosen.add(topic));
  if (options.dlq) visible.filter((topic) => topic.endsWith('.dlq')).forEach((topic) => chosen.add(topic));
  for (const name of options.topics) {
    const full = options.prefix + name;
    if (isGlob(name)) {
      const matched = visible.filter((topic) => globMatches(full, topic));
      if (!matched.length) throw new UsageError(`no topic matches "${full}"`, { hint: 'list them with --all, or check --topic-prefix' });
      matched.forEach((topic) => chosen.add(topic));
    } else if (existing.includes(full)) chosen.add(full);
    else throw new UsageError(`topic "${full}" does not exist`, { hint: 'check the name and --topic-prefix (KAFKA_TOPIC_PREFIX)' });
  }
  if (!chosen.size) throw new UsageError('no topic to tail', { hint: 'name a topic or a glob, or use --all or --dlq' });
  return [...chosen];
}

async function partitionPlan(admin: Admin, topic: string, options: TailOptions, nowMs: number): Promise<PartitionRead[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const atTime =
    options.start.kind === 'time'
      ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, options.start.atMs)).map((p) => [p.partition, p.offset]))
      : undefined;
  // A past --until is offsets-for-times too: the first message after it ends the partition.
  const untilTime =
    options.untilMs !== undefined && options.untilMs < nowMs
      ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, options.untilMs + 1)).map((p) => [p.partition, p.offset]))
      : undefined;
  return ends
    .filter((end) => !options.filters.partitions || options.filters.partitions.includes(end.partition))
    .map((end) => {
      const high = BigInt(end.high);
      const bounds = { partition: end.partition, low: BigInt(end.low), high };
      const timeOffset = atTime?.get(end.partition);
      const from = startOffset(options.start, {
        ...bounds,
        ...(timeOffset !== undefined ? { atTime: BigInt(timeOffset) < 0n ? high : BigInt(timeOffset) } : {}),
      });
      const untilOffset = untilTime?.get(end.partition);
      const until = untilOffset !== undefined && BigInt(untilOffset) >= 0n && BigInt(untilOffset) < high ? BigInt(untilOffset) : high;
      return { topic, partition: end.partition, from, until };
    });
}

/**
 * Shows what is on topics: read-only, offsets never committed, the pipeline's groups never joined.
 * Without follow it ends when every partition is read up to where it ended when the tail began.
 */
export async function tail(options: TailOptions): Promise<TailSummary> {
  const now = options.now ?? Date.now;
  const kafka = createKafka({
    brokers: options.brokers,
    security: options.kafkaSecurity,
    clientId: 'paymentsctl-tail',
    log: options.log,
    retries: 2,
    requestTimeoutMs: 10_000,
  });
  const admin = kafka.admin();
  let topics: string[];
  let plan: PartitionRead[];
  try {
    await admin.connect();
    topics = resolveTopics(await admin.listTopics(), options);
    const nowMs = now();
    plan = (await Promise.all(topics.map((topic) => partitionPlan(admin, topic, options, nowMs)))).flat();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UnavailableError(`cannot read Kafka at ${options.brokers.join(',')}: ${errorMessage(error)}`, {
      hint: 'check KAFKA_BROKERS and that the brokers are up',
      cause: error,
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const untilTimer =
    options.follow && options.untilMs !== undefined ? setTimeout(() => stop.abort(), Math.max(0, options.untilMs - now())) : undefined;
  let shown = 0;
  let skipped = 0;
  try {
    if (options.count === 0) return { topics, shown, skipped, groupId: '', groupDeleted: true };
    const read = await readPartitions({
      // The broker answered: now ride out what a busy or fresh one says while a group is set up
      // (coordinator not available yet, still loading).
      kafka: createKafka({
        brokers: options.brokers,
        security: options.kafkaSecurity,
        clientId: 'paymentsctl-tail',
        log: options.log,
        retries: 8,
      }),
      partitions: plan,
      follow: options.follow,
      signal: stop.signal,
      log: options.log,
      onMessage: (message) => {
        const beyond = options.untilMs !== undefined && Number(message.timestamp) > options.untilMs;
        if (beyond || !matchesEnvelope(options.filters, message)) {
          skipped++;
          return;
        }
        const record = toTailRecord(message);
        if (!matchesValue(options.filters, record, message.value)) {
          skipped++;
          return;
        }
        options.onRecord(record);
        shown++;
        if (options.count !== undefined && shown >= options.count) return 'stop';
      },
    });
    return { topics, shown, skipped, ...read };
  } finally {
    clearTimeout(untilTimer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
