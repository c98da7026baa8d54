import type { ReadMessage } from '../../kafka/reader.js';
import { FailureHeaders } from '../../worker/headers.js';

/** A Kafka message as the reader hands it over: bytes, not yet interpreted (timestamp: ms since the epoch, as text). */
export type RawMessage = ReadMessage;

/** Bytes that are valid UTF-8 are shown as text; any others as base64, never mangled. */
export type Bytes = string | { base64: string };

/** CloudEvents attributes from the binary-mode `ce_*` headers (datacontenttype from `content-type`). */
export type CloudEventAttributes = Record<string, string>;

export interface DeadLetterInfo {
  originalTopic?: string;
  originalPartition?: number;
  originalOffset?: string;
  originalTimestamp?: string;
  attempts?: number;
  errorKind?: string;
  reason?: string;
  error?: string;
  failedAt?: string;
}

/** One message as `tail` shows it; with --json, exactly this object on one line. */
export interface TailRecord {
  topic: string;
  partition: number;
  offset: string;
  /** ISO time of the Kafka timestamp */
  timestamp: string;
  key: Bytes | null;
  headers: Record<string, Bytes>;
  ce?: CloudEventAttributes;
  /** the value: parsed when it is JSON, the text when it is other UTF-8, null for a tombstone */
  data: unknown;
  /** json | text | binary | null: how `data` (or `dataBase64`) was read from the value */
  valueFormat: 'json' | 'text' | 'binary' | 'null';
  /** a value that is not UTF-8, byte for byte */
  dataBase64?: string;
  /** on a dead-letter topic: why the message is there and where it came from */
  deadLetter?: DeadLetterInfo;
  /** on a retry topic: the attempt so far and when it is due */
  retry?: { attempts?: number; dueAt?: string; error?: string };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeBytes(bytes: Buffer | string): Bytes {
  if (typeof bytes === 'string') return bytes;
  try {
    return utf8.decode(bytes);
  } catch {
    return { base64: bytes.toString('base64') };
  }
}

/** A header's text, or undefined when it is absent or not UTF-8. */
export const textOf = (bytes: Bytes | undefined): string | undefined => (typeof bytes === 'string' ? bytes : undefined);

export function decodeHeaderMap(headers: RawMessage['headers']): Record<string, Bytes> {
  const decoded: Record<string, Bytes> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    // A repeated header: the last one wins, as a CloudEvents reader takes it.
    const one = Array.isArray(value) ? value[value.length - 1] : value;
    if (one !== undefined) decoded[name] = decodeBytes(one);
  }
  return decoded;
}

export function cloudEventOf(headers: Record<string, Bytes>): CloudEventAttributes | undefined {
  const attributes: CloudEventAttributes = {};
  for (const [name, value] of Object.entries(headers)) {
    const text = textOf(value);
    if (name.startsWith('ce_') && text !== undefined) attributes[name.slice(3)] = text;
  }
  if (Object.keys(attributes).length === 0) return undefined;
  const contentType = textOf(headers['content-type']);
  if (contentType !== undefined) attributes.datacontenttype = contentType;
  return attributes;
}

const isDeadLetterTopic = (topic: string) => topic.endsWith('.dlq');
const isRetryTopic = (topic: string) => /\.retry\.\d+$/.test(topic);

const numberOf = (text: string | undefined) => (text !== undefined && Number.isFinite(Number(text)) ? Number(text) : undefined);
const isoOfMs = (text: string | undefined) => {
  const ms = numberOf(text);
  return ms === undefined ? undefined : new Date(ms).toISOString();
};

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export function deadLetterOf(headers: Record<string, Bytes>): DeadLetterInfo {
  const h = (name: string) => textOf(headers[name]);
  return withoutUndefined({
    originalTopic: h(FailureHeaders.originalTopic),
    originalPartition: numberOf(h(FailureHeaders.originalPartition)),
    originalOffset: h(FailureHeaders.originalOffset),
    originalTimestamp: isoOfMs(h(FailureHeaders.originalTimestamp)),
    attempts: numberOf(h(FailureHeaders.attempts)),
    errorKind: h(FailureHeaders.errorKind),
    reason: h(FailureHeaders.deadLetterReason),
    error: h(FailureHeaders.error),
    failedAt: h(FailureHeaders.failedAt),
  });
}

function valueOf(value: Buffer | null): Pick<TailRecord, 'data' | 'valueFormat' | 'dataBase64'> {
  if (value === null) return { data: null, valueFormat: 'null' };
  const text = decodeBytes(value);
  if (typeof text !== 'string') return { data: null, valueFormat: 'binary', dataBase64: text.base64 };
  try {
    return { data: JSON.parse(text) as unknown, valueFormat: 'json' };
  } catch {
    return { data: text, valueFormat: 'text' };
  }
}

/** Reads a message the way an operator needs it; never throws on what a producer put there. */
export function toTailRecord(message: RawMessage): TailRecord {
  const headers = decodeHeaderMap(message.headers);
  const ms = Number(message.timestamp);
  const ce = cloudEventOf(headers);
  const record: TailRecord = {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    timestamp: Number.isFinite(ms) ? new Date(ms).toISOString() : String(message.timestamp),
    key: message.key === null ? null : decodeBytes(message.key),
    headers,
    ...(ce ? { ce } : {}),
    ...valueOf(message.value),
  };
  if (isDeadLetterTopic(message.topic)) record.deadLetter = deadLetterOf(headers);
  else if (isRetryTopic(message.topic)) {
    const h = (name: string) => textOf(headers[name]);
    record.retry = withoutUndefined({
      attempts: numberOf(h(FailureHeaders.attempts)),
      dueAt: isoOfMs(h(FailureHeaders.dueAt)),
      error: h(FailureHeaders.error),
    });
  }
  return record;
}
