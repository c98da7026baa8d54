import type { Admin, Kafka, Producer } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { UnavailableError, UsageError, errorMessage } from '../../errors.js';
import { createPool, describeTarget } from '../../db/connect.js';
import { createKafka } from '../../kafka/client.js';
import { readPartitions, type PartitionRead } from '../../kafka/reader.js';
import type { KafkaSecurity } from '../../kafka/security.js';
import type { Logger } from '../../log.js';
import { requireCurrentSchema } from '../../migrate/schema-gate.js';
import { allowedDestinationsText, deadLetterTopics, isAllowedDestination } from './destinations.js';
import { SendPacer } from './rate.js';
import { priorReplayCount, replayHeaders } from './replay-headers.js';
import {
  byPosition,
  groupPlan,
  matchesSelection,
  positionKey,
  toDeadLetter,
  type DeadLetter,
  type DlqSelection,
  type PlanGroup,
} from './selection.js';
import { closeReplay, openReplay, recordOutcome, recordSending, replayedCounts, unacknowledgedSends } from './store.js';
import { settleUnacknowledged } from './unacknowledged.js';

export interface DlqReplayOptions {
  databaseUrl: string;
  brokers: string[];
  kafkaSecurity?: KafkaSecurity;
  prefix: string;
  /** dead-letter topics to read, without the prefix (`orders.placed` or `orders.placed.dlq`); empty: all */
  topics: string[];
  selection: Omit<DlqSelection, 'topics'>;
  /** send every copy here (without the prefix) instead of each message's own topic */
  to?: string;
  again: boolean;
  execute: boolean;
  /** sends per second at most */
  rate: number;
  log: Logger;
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface ReplayFailure {
  dlq: string;
  partition: number;
  offset: string;
  key?: string;
  eventId?: string;
  destination: string;
  error: string;
}

export interface DlqReplayReport {
  mode: 'plan' | 'execute';
  replayId?: string;
  topics: string[];
  /** --to, with the prefix; otherwise each message goes back to its own topic */
  destination?: string;
  /** dead letters read */
  read: number;
  /** of those, matching the selection */
  selected: number;
  /** selected and replayed before (skipped unless --again) */
  alreadyReplayed: number;
  /** what this run sends (or would send), after skips and --limit */
  toReplay: number;
  groups: PlanGroup[];
  replayed: number;
  /** selected but not sent: replayed before (without --again) or beyond --limit */
  skipped: number;
  failed: ReplayFailure[];
  interrupted: boolean;
  /** 0 done · 1 some could not be replayed · 130 interrupted */
  exitCode: 0 | 1 | 130;
}

function kafkaUnavailable(brokers: string[], error: unknown): UnavailableError {
  return new UnavailableError(`cannot reach Kafka at ${brokers.join(',')}: ${errorMessage(error)}`, {
    hint: 'check KAFKA_BROKERS and that the brokers are up',
    cause: error,
  });
}

async function postgres<T>(url: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (
      ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P03'].includes(code) ||
      /connect|timeout/i.test(errorMessage(error))
    )
      throw new UnavailableError(`cannot reach PostgreSQL at ${describeTarget(url)}: ${errorMessage(error)}`, {
        hint: 'check DATABASE_URL and that PostgreSQL is up',
        cause: error,
      });
    throw error;
  }
}

/** The dead-letter topics chosen, with the prefix: named ones (either name form), or every one that exists. */
export function chooseDeadLetterTopics(existing: readonly string[], prefix: string, named: readonly string[]): string[] {
  const known = deadLetterTopics(prefix);
  if (!named.length) return known.filter((topic) => existing.includes(topic));
  return named.map((name) => {
    const full = prefix + (name.endsWith('.dlq') ? name : `${name}.dlq`);
    if (!known.includes(full))
      throw new UsageError(`"${name}" is not one of the pipeline's dead-letter topics`, {
        hint: `choose among ${known.map((t) => t.slice(prefix.length)).join(', ')}`,
      });
    if (!existing.includes(full))
      throw new UsageError(`topic "${full}" does not exist`, { hint: 'check --topic-prefix (KAFKA_TOPIC_PREFIX)' });
    return full;
  });
}

async function readDeadLetters(kafka: Kafka, admin: Admin, topics: string[], options: DlqReplayOptions): Promise<DeadLetter[]> {
  const plan: PartitionRead[] = [];
  for (const topic of topics) {
    for (const end of await admin.fetchTopicOffsets(topic)) {
      plan.push({ topic, partition: end.partition, from: BigInt(end.low), until: BigInt(end.high) });
    }
  }
  const letters: DeadLetter[] = [];
  await readPartitions({
    kafka,
    partitions: plan,
    follow: false,
    groupPrefix: 'paymentsctl-replay',
    log: options.log,
    ...(options.signal ? { signal: options.signal } : {}),
    onMessage: (message) => void letters.push(toDeadLetter(message)),
  });
  return letters.sort(byPosition);
}

/**
 * Puts dead letters back through the pipeline: to the topic each came from (or --to), key, value
 * and headers as they were but for the dead-letter headers, plus replay headers. Dry run unless
 * `execute`. Each copy is recorded before it is sent and once the broker acknowledged it, so a
 * message already replayed is skipped (unless `again`) and a stopped run started again goes on.
 */
export async function replayDeadLetters(options: DlqReplayOptions): Promise<DlqReplayReport> {
  await requireCurrentSchema(options.databaseUrl, options.log);
  const destination = options.to === undefined ? undefined : options.prefix + options.to;
  if (destination !== undefined && !isAllowedDestination(destination, options.prefix))
    throw new UsageError(`--to ${options.to} is not a topic replay may write to`, {
      hint: `only the pipeline's own topics and their retry topics: ${allowedDestinationsText()}`,
    });
  const client = (retries: number) =>
    createKafka({ brokers: options.brokers, security: options.kafkaSecurity, clientId: 'paymentsctl-replay', log: options.log, retries });
  const kafka = client(8);
  const admin = client(2).admin();
  let topics: string[];
  let letters: DeadLetter[];
  let partitionCounts: Map<string, number>;
  try {
    try {
      await admin.connect();
    } catch (error) {
      throw kafkaUnavailable(options.brokers, error);
    }
    const existing = await admin.listTopics().catch((error: unknown) => {
      throw kafkaUnavailable(options.brokers, error);
    });
    topics = chooseDeadLetterTopics(existing, options.prefix, options.topics);
    if (destination !== undefined && !existing.includes(destination))
      throw new UsageError(`topic "${destination}" does not exist`, { hint: 'check --to and --topic-prefix (KAFKA_TOPIC_PREFIX)' });
    letters = await readDeadLetters(kafka, admin, topics, options).catch((error: unknown) => {
      throw kafkaUnavailable(options.brokers, error);
    });
    const destinations = [...new Set(letters.map((l) => destination ?? l.originalTopic))].filter(
      (topic) => isAllowedDestination(topic, options.prefix) && existing.includes(topic),
    );
    const metadata = destinations.length ? await admin.fetchTopicMetadata({ topics: destinations }) : { topics: [] };
    partitionCounts = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  const selection: DlqSelection = { ...options.selection, topics };
  const selected = letters.filter((letter) => matchesSelection(selection, letter));
  const pool = createPool(options.databaseUrl, { max: 2, applicationName: 'paymentsctl-replay' });
  try {
    const position = (l: DeadLetter) => ({ topic: l.message.topic, partition: l.message.partition, offset: l.message.offset });
    if (options.execute) {
      const unanswered = await postgres(options.databaseUrl, () => unacknowledgedSends(pool, selected.map(position)));
      await settleUnacknowledged(kafka, pool, unanswered, options.log).catch((error: unknown) => {
        throw kafkaUnavailable(options.brokers, error);
      });
    }
    const copies = await postgres(options.databaseUrl, () => replayedCounts(pool, selected.map(position)));
    const copiesOf = (l: DeadLetter) => copies.get(positionKey(l.message.topic, l.message.partition, l.message.offset)) ?? 0;
    const alreadyReplayed = selected.filter((l) => copiesOf(l) > 0).length;
    let candidates = options.again ? selected : selected.filter((l) => copiesOf(l) === 0);
    if (selection.limit !== undefined) candidates = candidates.slice(0, selection.limit);
    const report: DlqReplayReport = {
      mode: options.execute ? 'execute' : 'plan',
      topics,
      ...(destination !== undefined ? { destination } : {}),
      read: letters.length,
      selected: selected.length,
      alreadyReplayed,
      toReplay: candidates.length,
      groups: groupPlan(selected, (l) => copiesOf(l) > 0),
      replayed: 0,
      skipped: selected.length - candidates.length,
      failed: [],
      interrupted: false,
      exitCode: 0,
    };
    if (!options.execute || options.signal?.aborted) {
      report.interrupted = Boolean(options.signal?.aborted);
      report.exitCode = report.interrupted ? 130 : 0;
      return report;
    }

    const replayId = await postgres(options.databaseUrl, () =>
      openReplay(
        pool,
        'dlq',
        { ...selection, ...(destination !== undefined ? { to: destination } : {}), again: options.again, rate: options.rate },
        selected.length,
      ),
    );
    report.replayId = replayId;
    const counts = () => ({ selected: selected.length, replayed: report.replayed, skipped: report.skipped, failed: report.failed.length });
    let producer: Producer | undefined;
    try {
      producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
      });
      await producer.connect().catch((error: unknown) => {
        throw kafkaUnavailable(options.brokers, error);
      });
      const pacer = new SendPacer(options.rate);
      for (const [index, letter] of candidates.entries()) {
        await pacer.next(options.signal);
        // Ctrl-C stops before the next send; the one in flight above was finished and recorded.
        if (options.signal?.aborted) break;
        const target = destination ?? letter.originalTopic;
        const source = position(letter);
        const fail = async (error: string) => {
          report.failed.push({
            dlq: source.topic,
            partition: source.partition,
            offset: source.offset,
            ...(letter.key !== undefined ? { key: letter.key } : {}),
            ...(letter.eventId !== undefined ? { eventId: letter.eventId } : {}),
            destination: target,
            error,
          });
        };
        const partitions = partitionCounts.get(target);
        if (!isAllowedDestination(target, options.prefix) || partitions === undefined) {
          await fail(
            partitions === undefined && isAllowedDestination(target, options.prefix)
              ? `its topic ${target} does not exist`
              : `its original topic ${target} is not one replay may write to (use --to)`,
          );
          continue;
        }
        await postgres(options.databaseUrl, () => recordSending(pool, replayId, source, letter.eventId, target));
        const headers = replayHeaders(letter.message.headers, {
          replayId,
          at: new Date(),
          source,
          count: Math.max(copiesOf(letter), priorReplayCount(letter.headers)) + 1,
        });
        // The partition it was on, when the destination has it: the key's order is kept even for a
        // topic produced by a client with another partitioner.
        const partition =
          letter.originalPartition !== undefined && letter.originalPartition < partitions && destination === undefined
            ? { partition: letter.originalPartition }
            : {};
        try {
          const [ack] = await producer.send({
            topic: target,
            acks: -1,
            messages: [{ key: letter.message.key, value: letter.message.value, headers, ...partition }],
          });
          const sent = { partition: ack?.partition ?? -1, offset: ack?.baseOffset ?? '-1' };
          await postgres(options.databaseUrl, () => recordOutcome(pool, replayId, source, { sent }));
          report.replayed++;
        } catch (error) {
          const text = errorMessage(error);
          await postgres(options.databaseUrl, () => recordOutcome(pool, replayId, source, { error: text }));
          await fail(text);
        }
        options.onProgress?.({ done: index + 1, total: candidates.length });
      }
      report.interrupted = Boolean(options.signal?.aborted) && report.replayed + report.failed.length < candidates.length;
    } finally {
      await producer?.disconnect().catch(() => undefined);
      const status = report.interrupted ? 'interrupted' : report.failed.length ? 'failed' : 'completed';
      await closeReplay(pool, replayId, status, counts()).catch((error: unknown) =>
        options.log.warn({ replay: replayId, err: errorMessage(error) }, 'could not record the end of the replay'),
      );
    }
    report.exitCode = report.interrupted ? 130 : report.failed.length ? 1 : 0;
    return report;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
