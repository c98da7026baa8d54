import { FailureHeaders } from '../../worker/headers.js';

/** Headers `replay` adds to each copy. Each is set (replacing the last replay's), never appended. */
export const ReplayHeaders = {
  /** the `replays` row that sent this copy */
  id: 'paymentsctl_replay_id',
  /** when it was sent, ISO time */
  at: 'paymentsctl_replayed_at',
  sourceTopic: 'paymentsctl_replay_source_topic',
  sourcePartition: 'paymentsctl_replay_source_partition',
  sourceOffset: 'paymentsctl_replay_source_offset',
  /** how many times this message has been replayed, this copy included */
  count: 'paymentsctl_replay_count',
} as const;

/**
 * Dead-letter headers a copy sheds: the failure is history once the cause is fixed, and the
 * attempts start over. `paymentsctl_consumer` stays: it addresses the copy to the one handler that
 * failed it (several read one topic), the others having handled the original already.
 */
const DROPPED: ReadonlySet<string> = new Set([
  FailureHeaders.attempts,
  FailureHeaders.dueAt,
  FailureHeaders.originalTopic,
  FailureHeaders.originalPartition,
  FailureHeaders.originalOffset,
  FailureHeaders.originalTimestamp,
  FailureHeaders.error,
  FailureHeaders.errorKind,
  FailureHeaders.failedAt,
  FailureHeaders.deadLetterReason,
  ...Object.values(ReplayHeaders),
]);

export type RawHeaderValue = Buffer | string | (Buffer | string)[] | undefined;
export type RawHeaders = Record<string, RawHeaderValue>;

export interface ReplayStamp {
  replayId: string;
  at: Date;
  source: { topic: string; partition: number; offset: string };
  /** this copy's number: earlier replays of the message plus one */
  count: number;
}

/**
 * The headers of a replayed copy: every header of the dead letter byte for byte (the `ce_*` ones
 * with the same `ce_id`, so an inbox that processed it already drops it), minus the dead-letter
 * headers, plus the replay headers — a fixed set, however often a message goes round.
 */
export function replayHeaders(deadLetter: RawHeaders, stamp: ReplayStamp): Record<string, Buffer | string | (Buffer | string)[]> {
  const headers: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const [name, value] of Object.entries(deadLetter)) {
    if (value === undefined || DROPPED.has(name)) continue;
    headers[name] = value;
  }
  headers[ReplayHeaders.id] = stamp.replayId;
  headers[ReplayHeaders.at] = stamp.at.toISOString();
  headers[ReplayHeaders.sourceTopic] = stamp.source.topic;
  headers[ReplayHeaders.sourcePartition] = String(stamp.source.partition);
  headers[ReplayHeaders.sourceOffset] = stamp.source.offset;
  headers[ReplayHeaders.count] = String(stamp.count);
  return headers;
}

/** How many times a message was replayed before, by what it carries (a copy that failed again). */
export function priorReplayCount(headers: Record<string, string>): number {
  const count = Number(headers[ReplayHeaders.count] ?? 0);
  return Number.isInteger(count) && count > 0 ? count : 0;
}
