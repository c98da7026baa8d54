import type { IHeaders } from 'kafkajs';

/**
 * Headers a message carries through `<topic>.retry.<n>` and into `<topic>.dlq`. The original
 * headers (CloudEvents attributes included) travel unchanged beside them.
 */
export const FailureHeaders = {
  /** failed attempts so far */
  attempts: 'paymentsctl_attempts',
  /** when a retry copy may be processed, ms since the epoch */
  dueAt: 'paymentsctl_due_at',
  originalTopic: 'paymentsctl_original_topic',
  originalPartition: 'paymentsctl_original_partition',
  originalOffset: 'paymentsctl_original_offset',
  /** the original message's Kafka timestamp, ms since the epoch */
  originalTimestamp: 'paymentsctl_original_timestamp',
  /** the last error, at most 1,000 characters */
  error: 'paymentsctl_error',
  /** transient | permanent | invalid_message */
  errorKind: 'paymentsctl_error_kind',
  failedAt: 'paymentsctl_failed_at',
  /** why a dead letter is one: retries_exhausted | permanent_error | invalid_message */
  deadLetterReason: 'paymentsctl_dlq_reason',
  /**
   * the inbox consumer that failed it: several handlers read one topic (the saga and the history
   * both read payments.failed), and a retry copy is for the one that failed it only
   */
  consumer: 'paymentsctl_consumer',
} as const;

const MAX_ERROR_LENGTH = 1000;

export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) decoded[name] = first.toString();
  }
  return decoded;
}

export interface MessageOrigin {
  topic: string;
  partition: number;
  offset: string;
  /** ms since the epoch */
  timestamp: number;
}

/** Where a message first entered the pipeline: itself, or what its retry headers say. */
export function originOf(message: MessageOrigin, headers: Record<string, string>): MessageOrigin {
  const topic = headers[FailureHeaders.originalTopic];
  const partition = Number(headers[FailureHeaders.originalPartition]);
  const offset = headers[FailureHeaders.originalOffset];
  const timestamp = Number(headers[FailureHeaders.originalTimestamp]);
  if (!topic || !Number.isInteger(partition) || !offset) return message;
  return { topic, partition, offset, timestamp: Number.isFinite(timestamp) ? timestamp : message.timestamp };
}

export function attemptsOf(headers: Record<string, string>): number {
  const attempts = Number(headers[FailureHeaders.attempts] ?? 0);
  return Number.isInteger(attempts) && attempts >= 0 ? attempts : 0;
}

export function dueAtOf(headers: Record<string, string>): number | undefined {
  const due = Number(headers[FailureHeaders.dueAt]);
  return Number.isFinite(due) && due > 0 ? due : undefined;
}

/** The inbox id of a message: its CloudEvents id, or where it first landed when it has none. */
export function messageIdOf(headers: Record<string, string>, origin: MessageOrigin): string {
  return headers.ce_id || `${origin.topic}/${origin.partition}/${origin.offset}`;
}

/** Whether `consumer` should handle this message: it is not a retry copy or dead letter meant for another handler of its topic. */
export function isAddressedTo(headers: Record<string, string>, consumer: string): boolean {
  const addressee = headers[FailureHeaders.consumer];
  return addressee === undefined || addressee === consumer;
}

export interface FailureDetails {
  origin: MessageOrigin;
  /** the inbox consumer whose handling failed */
  consumer: string;
  attempts: number;
  error: string;
  errorKind: 'transient' | 'permanent' | 'invalid_message';
  now: number;
  /** for a retry copy */
  dueAt?: number;
  /** for a dead letter */
  deadLetterReason?: 'retries_exhausted' | 'permanent_error' | 'invalid_message';
}

/** The headers of a retry copy or dead letter: the original's, with the failure's replacing ours. */
export function failureHeaders(original: Record<string, string>, failure: FailureDetails): Record<string, string> {
  const headers = { ...original };
  delete headers[FailureHeaders.dueAt];
  delete headers[FailureHeaders.deadLetterReason];
  Object.assign(headers, {
    [FailureHeaders.attempts]: String(failure.attempts),
    [FailureHeaders.originalTopic]: failure.origin.topic,
    [FailureHeaders.originalPartition]: String(failure.origin.partition),
    [FailureHeaders.originalOffset]: failure.origin.offset,
    [FailureHeaders.originalTimestamp]: String(failure.origin.timestamp),
    [FailureHeaders.error]: failure.error.length > MAX_ERROR_LENGTH ? `${failure.error.slice(0, MAX_ERROR_LENGTH - 1)}…` : failure.error,
    [FailureHeaders.errorKind]: failure.errorKind,
    [FailureHeaders.failedAt]: new Date(failure.now).toISOString(),
    [FailureHeaders.consumer]: failure.consumer,
  });
  if (failure.dueAt !== undefined) headers[FailureHeaders.dueAt] = String(failure.dueAt);
  if (failure.deadLetterReason) headers[FailureHeaders.deadLetterReason] = failure.deadLetterReason;
  return headers;
}
