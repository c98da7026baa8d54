import { FailureHeaders, decodeHeaders } from '../../worker/headers.js';
import type { ReadMessage } from '../../kafka/reader.js';
import { globMatches } from '../tail/glob.js';

/** Which dead letters a replay takes; every given filter must match. Globs use `*` and `?`. */
export interface DlqSelection {
  /** dead-letter topics, with the prefix */
  topics: string[];
  /** when it was dead-lettered (the dead letter's Kafka timestamp), ms since the epoch */
  sinceMs?: number;
  untilMs?: number;
  key?: string;
  /** CloudEvents type (ce_type) */
  type?: string;
  errorKind?: string;
  /** the dead-letter reason (retries_exhausted, permanent_error, invalid_message) or the error text */
  reason?: string;
  /** CloudEvents ids (ce_id) */
  eventIds: string[];
  limit?: number;
}

export const ERROR_KINDS = ['transient', 'permanent', 'invalid_message'] as const;

/** A dead letter, read, with what a replay needs to know about it. */
export interface DeadLetter {
  message: ReadMessage;
  headers: Record<string, string>;
  /** the topic it came from: its original-topic header, else the dead-letter topic without `.dlq` */
  originalTopic: string;
  originalPartition?: number;
  eventId?: string;
  type?: string;
  key?: string;
  errorKind: string;
  reason: string;
  error: string;
}

export function toDeadLetter(message: ReadMessage): DeadLetter {
  const headers = decodeHeaders(message.headers);
  const partition = Number(headers[FailureHeaders.originalPartition]);
  return {
    message,
    headers,
    originalTopic: headers[FailureHeaders.originalTopic] || message.topic.replace(/\.dlq$/, ''),
    ...(Number.isInteger(partition) && partition >= 0 && headers[FailureHeaders.originalPartition] !== undefined
      ? { originalPartition: partition }
      : {}),
    ...(headers.ce_id ? { eventId: headers.ce_id } : {}),
    ...(headers.ce_type ? { type: headers.ce_type } : {}),
    ...(message.key !== null ? { key: message.key.toString() } : {}),
    errorKind: headers[FailureHeaders.errorKind] ?? 'unknown',
    reason: headers[FailureHeaders.deadLetterReason] ?? 'unknown',
    error: headers[FailureHeaders.error] ?? '',
  };
}

export function matchesSelection(selection: DlqSelection, letter: DeadLetter): boolean {
  const time = Number(letter.message.timestamp);
  if (selection.sinceMs !== undefined && !(time >= selection.sinceMs)) return false;
  if (selection.untilMs !== undefined && !(time <= selection.untilMs)) return false;
  if (selection.key !== undefined && (letter.key === undefined || !globMatches(selection.key, letter.key))) return false;
  if (selection.type !== undefined && (letter.type === undefined || !globMatches(selection.type, letter.type))) return false;
  if (selection.errorKind !== undefined && letter.errorKind !== selection.errorKind) return false;
  if (selection.reason !== undefined && !globMatches(selection.reason, letter.reason) && !globMatches(selection.reason, letter.error))
    return false;
  if (selection.eventIds.length && (letter.eventId === undefined || !selection.eventIds.includes(letter.eventId))) return false;
  return true;
}

/** Topic, partition, offset order: the order a replay sends in, and what --limit counts. */
export function byPosition(a: DeadLetter, b: DeadLetter): number {
  return (
    a.message.topic.localeCompare(b.message.topic) ||
    a.message.partition - b.message.partition ||
    Number(BigInt(a.message.offset) - BigInt(b.message.offset))
  );
}

export const positionKey = (topic: string, partition: number, offset: string) => `${topic}/${partition}/${offset}`;

export interface PlanGroup {
  originalTopic: string;
  errorKind: string;
  reason: string;
  count: number;
  /** of which already replayed (skipped unless --again) */
  alreadyReplayed: number;
  sample: { dlq: string; partition: number; offset: string; key?: string; eventId?: string; type?: string; error: string };
}

/** The dry run's plan: the selected dead letters by original topic × error kind × reason, each with a sample. */
export function groupPlan(letters: readonly DeadLetter[], replayed: (letter: DeadLetter) => boolean): PlanGroup[] {
  const groups = new Map<string, PlanGroup>();
  for (const letter of letters) {
    const id = `${letter.originalTopic}\u0000${letter.errorKind}\u0000${letter.reason}`;
    let group = groups.get(id);
    if (!group) {
      group = {
        originalTopic: letter.originalTopic,
        errorKind: letter.errorKind,
        reason: letter.reason,
        count: 0,
        alreadyReplayed: 0,
        sample: {
          dlq: letter.message.topic,
          partition: letter.message.partition,
          offset: letter.message.offset,
          ...(letter.key !== undefined ? { key: letter.key } : {}),
          ...(letter.eventId !== undefined ? { eventId: letter.eventId } : {}),
          ...(letter.type !== undefined ? { type: letter.type } : {}),
          error: letter.error,
        },
      };
      groups.set(id, group);
    }
    group.count++;
    if (replayed(letter)) group.alreadyReplayed++;
  }
  return [...groups.values()].sort(
    (a, b) => a.originalTopic.localeCompare(b.originalTopic) || a.errorKind.localeCompare(b.errorKind) || a.reason.localeCompare(b.reason),
  );
}
