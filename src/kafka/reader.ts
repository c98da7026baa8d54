import { randomBytes } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../log.js';

/** One partition to read, from `from`; without follow, up to (not including) `until`. */
export interface PartitionRead {
  topic: string;
  partition: number;
  from: bigint;
  until?: bigint;
}

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface ReadOptions {
  kafka: Kafka;
  partitions: PartitionRead[];
  /** keep reading past `until` for new messages, until `signal` or `onMessage` stops it */
  follow: boolean;
  /** each message in offset order per partition; answer 'stop' to end the read */
  onMessage: (message: ReadMessage) => 'stop' | void;
  signal?: AbortSignal;
  /** the temporary group's name starts with this */
  groupPrefix?: string;
  log?: Logger;
}

export interface ReadResult {
  /** the temporary group the client needed; deleted before this returns */
  groupId: string;
  groupDeleted: boolean;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Reads chosen partitions from chosen offsets without ever committing an offset or joining anyone
 * else's group. kafkajs can only consume through a group, so it uses a temporary one of its own —
 * a random name, offsets never committed (autoCommit off; a seek then commits nothing either) —
 * and deletes it when done, interrupted or not.
 */
export async function readPartitions(options: ReadOptions): Promise<ReadResult> {
  const groupId = `${options.groupPrefix ?? 'paymentsctl-tail'}-${randomBytes(6).toString('hex')}`;
  const wanted = new Map(options.partitions.map((p) => [key(p.topic, p.partition), p]));
  const next = new Map(options.partitions.map((p) => [key(p.topic, p.partition), p.from]));
  const done = new Set<string>();
  const caughtUp = (id: string) => {
    const plan = wanted.get(id);
    const at = next.get(id);
    return !options.follow && plan?.until !== undefined && at !== undefined && at >= plan.until;
  };
  for (const id of wanted.keys()) if (caughtUp(id)) done.add(id);
  const allDone = () => !options.follow && done.size === wanted.size;
  const result: ReadResult = { groupId, groupDeleted: false };
  if (allDone() || options.signal?.aborted) return { groupId, groupDeleted: true };

  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onAbort = () => finish();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const admin = options.kafka.admin();
  try {
    // A fresh or busy broker may not have the group's coordinator ready (not available, still
    // loading): start over from where the read got to, a few times, instead of failing the read.
    for (let attempt = 1; ; attempt++) {
      try {
        await readOnce();
        break;
      } catch (error) {
        if (attempt >= 6 || !isRetriable(error) || options.signal?.aborted) throw error;
        options.log?.debug({ group: groupId, attempt, err: String(error) }, 'temporary consumer failed; starting it again');
        await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    result.groupDeleted = await deleteGroup(admin, groupId, options.log);
  }
  return result;

  async function readOnce(): Promise<void> {
    const consumer = options.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 250,
      allowAutoTopicCreation: false,
      // Crashes end this consumer; readPartitions decides whether to start another.
      retry: { retries: 5, restartOnFailure: async () => false },
    });
    let connected = false;
    try {
      const failed = new Promise<never>((_, reject) => {
        consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      });
      failed.catch(() => undefined);
      // Partitions this read does not want are paused as soon as they are assigned.
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
          const unwanted = partitions.filter((p) => !wanted.has(key(topic, p)));
          if (unwanted.length) consumer.pause([{ topic, partitions: unwanted }]);
        }
      });
      await consumer.connect();
      connected = true;
      await consumer.subscribe({ topics: [...new Set(options.partitions.map((p) => p.topic))], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, isRunning, isStale }) => {
          const id = key(batch.topic, batch.partition);
          const plan = wanted.get(id);
          if (!plan || done.has(id)) return;
          for (const message of batch.messages) {
            if (!isRunning() || isStale() || done.has(id)) return;
            const offset = BigInt(message.offset);
            // Before the seek took effect, or a batch fetched again: never show a message twice.
            if (offset < (next.get(id) ?? plan.from)) continue;
            if (!options.follow && plan.until !== undefined && offset >= plan.until) break;
            next.set(id, offset + 1n);
            const answer = options.onMessage({
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              timestamp: message.timestamp,
              key: message.key ?? null,
              value: message.value ?? null,
              headers: message.headers ?? {},
            });
            if (answer === 'stop') {
              finish();
              return;
            }
          }
          // Offsets without a message (transaction markers, compaction) still count as read.
          const last = BigInt(batch.lastOffset()) + 1n;
          if (last > (next.get(id) ?? 0n) && (options.follow || plan.until === undefined || last <= plan.until)) next.set(id, last);
          if (caughtUp(id) || (!options.follow && plan.until !== undefined && last >= plan.until)) done.add(id);
          if (allDone()) finish();
        },
      });
      try {
        for (const p of options.partitions) {
          const id = key(p.topic, p.partition);
          if (!done.has(id)) consumer.seek({ topic: p.topic, partition: p.partition, offset: (next.get(id) ?? p.from).toString() });
        }
      } catch (error) {
        // A consumer that crashed while joining (a coordinator still loading) refuses the seek
        // ("not initialized"): what counts is the crash, which readPartitions may start over from.
        await Promise.race([failed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
        throw error;
      }
      await Promise.race([finished, failed]);
    } finally {
      if (connected) await consumer.disconnect().catch(() => undefined);
    }
  }
}

function isRetriable(error: unknown): boolean {
  let cause: unknown = error;
  while (cause && typeof cause === 'object') {
    const e = cause as { retriable?: boolean; name?: string; cause?: unknown };
    if (e.retriable === true || e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSGroupCoordinatorNotFound') return true;
    cause = e.cause;
  }
  return false;
}

/** Deletes the temporary group; a coordinator that still sees the member leaving gets a few more tries. */
async function deleteGroup(admin: Admin, groupId: string, log?: Logger): Promise<boolean> {
  try {
    await admin.connect();
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await admin.deleteGroups([groupId]);
        return true;
      } catch (error) {
        const text = String((error as { groups?: { errorCode?: number; error?: { type?: string } }[] }).groups?.[0]?.error?.type ?? error);
        if (text.includes('GROUP_ID_NOT_FOUND')) return true;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    log?.warn({ group: groupId }, 'could not delete the temporary consumer group; it holds no offsets and expires on its own');
    return false;
  } catch (error) {
    log?.warn({ group: groupId, err: String(error) }, 'could not delete the temporary consumer group');
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
