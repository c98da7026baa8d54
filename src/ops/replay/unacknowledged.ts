import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { readPartitions, type PartitionRead } from '../../kafka/reader.js';
import type { Logger } from '../../log.js';
import { decodeHeaders } from '../../worker/headers.js';
import { ReplayHeaders } from './replay-headers.js';
import { recordOutcome, type UnacknowledgedSend } from './store.js';

/** How far before a send was recorded its copy may carry a timestamp (clocks of client and broker differ). */
const CLOCK_SLACK_MS = 60_000;

/**
 * Settles the sends a killed run left without an answer: the destination is read from just before
 * each was recorded, and a copy carrying that run's id and source position means it arrived (sent,
 * with its offset); none means it did not (failed), so it is sent again — never twice.
 */
export async function settleUnacknowledged(
  kafka: Kafka,
  pool: pg.Pool,
  sends: readonly UnacknowledgedSend[],
  log: Logger,
): Promise<{ arrived: number; lost: number }> {
  if (!sends.length) return { arrived: 0, lost: 0 };
  const admin = kafka.admin();
  const plan: PartitionRead[] = [];
  await admin.connect();
  try {
    for (const topic of new Set(sends.map((s) => s.destinationTopic))) {
      const since = Math.min(...sends.filter((s) => s.destinationTopic === topic).map((s) => s.recordedAt.getTime())) - CLOCK_SLACK_MS;
      const ends = await admin.fetchTopicOffsets(topic);
      const from = new Map((await admin.fetchTopicOffsetsByTimestamp(topic, since)).map((p) => [p.partition, BigInt(p.offset)]));
      for (const end of ends) {
        const start = from.get(end.partition);
        const high = BigInt(end.high);
        plan.push({ topic, partition: end.partition, from: start === undefined || start < 0n ? high : start, until: high });
      }
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const key = (replayId: string, topic: string, partition: number | string, offset: string) =>
    `${replayId}/${topic}/${partition}/${offset}`;
  const wanted = new Set(sends.map((s) => key(s.replayId, s.source.topic, s.source.partition, s.source.offset)));
  const found = new Map<string, { partition: number; offset: string }>();
  await readPartitions({
    kafka,
    partitions: plan,
    follow: false,
    groupPrefix: 'paymentsctl-replay',
    log,
    onMessage: (message) => {
      const h = decodeHeaders(message.headers);
      const id = h[ReplayHeaders.id];
      if (id === undefined) return;
      const k = key(id, h[ReplayHeaders.sourceTopic] ?? '', h[ReplayHeaders.sourcePartition] ?? '', h[ReplayHeaders.sourceOffset] ?? '');
      if (wanted.has(k)) found.set(k, { partition: message.partition, offset: message.offset });
    },
  });
  let arrived = 0;
  for (const send of sends) {
    const copy = found.get(key(send.replayId, send.source.topic, send.source.partition, send.source.offset));
    if (copy) arrived++;
    await recordOutcome(
      pool,
      send.replayId,
      send.source,
      copy ? { sent: copy } : { error: 'the run stopped before the broker answered, and no copy arrived' },
    );
  }
  log.info({ arrived, lost: sends.length - arrived }, 'settled the sends a stopped replay left unanswered');
  return { arrived, lost: sends.length - arrived };
}
