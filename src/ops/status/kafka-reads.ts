import type { Admin, Kafka } from 'kafkajs';
import { readPartitions, type ReadMessage } from '../../kafka/reader.js';
import type { Logger } from '../../log.js';
import { FailureHeaders } from '../../worker/headers.js';
import type { PartitionLook } from './lag-verdict.js';

/** One look at Kafka: every log's ends and every group's committed offsets, read together. */
export interface KafkaLook {
  atMs: number;
  /** topic → partition → [low, high] */
  ends: Map<string, Map<number, { low: bigint; high: bigint }>>;
  groups: Map<string, GroupLook>;
}

export interface GroupLook {
  groupId: string;
  /** Stable, Empty, Dead (never existed or expired), PreparingRebalance, ... */
  state: string;
  members: { clientId: string; host: string }[];
  /** topic → partition → committed offset (null: never committed) */
  committed: Map<string, Map<number, bigint | null>>;
}

export interface GroupToWatch {
  groupId: string;
  /** topics it should consume even where it never committed (the worker's); others come from its commits */
  topics: readonly string[];
}

async function existingTopics(admin: Admin, topics: readonly string[]): Promise<string[]> {
  const names = new Set(await admin.listTopics());
  return topics.filter((t) => names.has(t));
}

export async function lookAtKafka(admin: Admin, groups: readonly GroupToWatch[], extraTopics: readonly string[]): Promise<KafkaLook> {
  const atMs = Date.now();
  const [described, commits] = await Promise.all([
    admin.describeGroups(groups.map((g) => g.groupId)),
    Promise.all(groups.map((g) => admin.fetchOffsets({ groupId: g.groupId }))),
  ]);
  const topics = await existingTopics(admin, [
    ...new Set([...extraTopics, ...groups.flatMap((g) => g.topics), ...commits.flatMap((c) => c.map((t) => t.topic))]),
  ]);
  const ends = new Map<string, Map<number, { low: bigint; high: bigint }>>();
  await Promise.all(
    topics.map(async (topic) => {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }])));
    }),
  );
  const looks = new Map<string, GroupLook>();
  groups.forEach((group, i) => {
    const description = described.groups.find((d) => d.groupId === group.groupId);
    const committed = new Map<string, Map<number, bigint | null>>();
    const consumed = new Set([...group.topics, ...(commits[i] ?? []).map((t) => t.topic)]);
    for (const topic of consumed) {
      const partitions = ends.get(topic);
      if (!partitions) continue;
      const mine = (commits[i] ?? []).find((t) => t.topic === topic)?.partitions ?? [];
      committed.set(
        topic,
        new Map(
          [...partitions.keys()].map((p) => {
            const offset = mine.find((m) => m.partition === p)?.offset;
            return [p, offset === undefined || Number(offset) < 0 ? null : BigInt(offset)];
          }),
        ),
      );
    }
    looks.set(group.groupId, {
      groupId: group.groupId,
      state: description?.state ?? 'Unknown',
      members: (description?.members ?? []).map((m) => ({ clientId: m.clientId, host: m.clientHost })),
      committed,
    });
  });
  return { atMs, ends, groups: looks };
}

/** The window of looks at one group's partition, oldest first. */
export function partitionLooks(window: readonly KafkaLook[], groupId: string, topic: string, partition: number): PartitionLook[] {
  const looks: PartitionLook[] = [];
  for (const look of window) {
    const end = look.ends.get(topic)?.get(partition);
    const group = look.groups.get(groupId);
    if (!end || !group) continue;
    const committed = group.committed.get(topic)?.get(partition);
    looks.push({ atMs: look.atMs, committed: committed ?? null, low: end.low, high: end.high });
  }
  return looks;
}

/** A message to read: one at an offset, or a run of them. */
export interface PeekRequest {
  topic: string;
  partition: number;
  from: bigint;
  until: bigint;
  onMessage: (message: ReadMessage) => void;
}

/**
 * Reads the messages the report needs (the one at a committed offset, the start of a DLQ), in as
 * few temporary-group reads as possible: one per set of requests that share no partition.
 * Gives up after `timeoutMs`; what was not read stays unknown.
 */
export async function peek(kafka: Kafka, requests: readonly PeekRequest[], timeoutMs: number, log?: Logger): Promise<void> {
  let remaining = requests.filter((r) => r.until > r.from);
  const deadline = AbortSignal.timeout(timeoutMs);
  while (remaining.length && !deadline.aborted) {
    const round = new Map<string, PeekRequest>();
    const later: PeekRequest[] = [];
    for (const r of remaining) {
      const id = `${r.topic}\u0000${r.partition}`;
      if (round.has(id)) later.push(r);
      else round.set(id, r);
    }
    await readPartitions({
      kafka,
      follow: false,
      signal: deadline,
      groupPrefix: 'paymentsctl-status',
      log,
      partitions: [...round.values()].map((r) => ({ topic: r.topic, partition: r.partition, from: r.from, until: r.until })),
      onMessage: (message) => round.get(`${message.topic}\u0000${message.partition}`)?.onMessage(message),
    });
    remaining = later;
  }
}

export const headerText = (message: ReadMessage, name: string): string | undefined => {
  const value = message.headers[name];
  const one = Array.isArray(value) ? value[value.length - 1] : value;
  return one === undefined ? undefined : one.toString();
};

export const dueAtOfMessage = (message: ReadMessage): number | undefined => {
  const due = Number(headerText(message, FailureHeaders.dueAt));
  return Number.isFinite(due) && due > 0 ? due : undefined;
};
