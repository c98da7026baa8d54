import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { UsageError } from '../errors.js';

/** Anything that runs a query: a pg Client or PoolClient, inside the application's transaction. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

export interface OutboxMessage {
  topic: string;
  /** the Kafka key: the aggregate id (order id, trip id), so one aggregate's events stay ordered */
  key: string;
  /** the CloudEvents type, e.g. `orders.placed` or `com.example.order.placed` */
  type: string;
  /** the event's JSON data; money as integer minor units */
  data: unknown;
  /** extra Kafka headers (string values), e.g. `traceparent` */
  headers?: Record<string, string>;
  /** CloudEvents source; default `paymentsctl` */
  source?: string;
  /** a caller-chosen event id (uuid), for idempotent producers; default a random uuid */
  eventId?: string;
}

const messageSchema = z.object({
  topic: z
    .string()
    .min(1)
    .max(249)
    .regex(/^[A-Za-z0-9._-]+$/, 'a Kafka topic name (letters, digits, . _ -)'),
  key: z.string().min(1),
  type: z.string().min(1),
  data: z.unknown().refine((value) => value !== undefined, 'data is required'),
  headers: z.record(z.string(), z.string()).optional(),
  source: z.string().min(1).optional(),
  eventId: z.uuid().optional(),
});

/** Headers the publisher writes itself from the row; an application may not override them. */
const RESERVED_HEADERS = new Set(['ce_specversion', 'ce_id', 'ce_type', 'ce_time', 'content-type']);

interface Row {
  eventId: string;
  topic: string;
  key: string;
  type: string;
  payload: string;
  headers: string;
}

function toRow(message: OutboxMessage, index: number): Row {
  const parsed = messageSchema.safeParse(message);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`outbox message ${index}: ${issue.path.join('.') || 'message'}: ${issue.message}`);
  }
  const payload = JSON.stringify(message.data);
  if (payload === undefined) throw new UsageError(`outbox message ${index}: data is not JSON-serialisable`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new UsageError(`outbox message ${index}: header ${name} is set by the publisher`);
    headers[name] = value;
  }
  if (message.source) headers.ce_source = message.source;
  return {
    eventId: message.eventId ?? randomUUID(),
    topic: message.topic,
    key: message.key,
    type: message.type,
    payload,
    headers: JSON.stringify(headers),
  };
}

// Rows go in ordered by the per-key lock they take (sql/002), then by position: every batch takes
// those locks in one global order, so two batches cannot deadlock on them, and a key's events
// keep the order given.
const INSERT = `
  INSERT INTO outbox (event_id, topic, key, type, payload, headers)
  SELECT m.event_id, m.topic, m.key, m.type, m.payload, m.headers
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[])
       WITH ORDINALITY AS m(event_id, topic, key, type, payload, headers, position)
  ORDER BY hashtext(m.topic || E'\n' || m.key), m.position`;

/**
 * Adds events to the outbox with the application's own client, inside its own transaction: they
 * are published only if, and once, that transaction commits. Returns the event ids in order.
 */
export async function enqueueMany(client: Queryable, messages: readonly OutboxMessage[]): Promise<string[]> {
  const rows = messages.map(toRow);
  if (rows.length === 0) return [];
  await client.query(INSERT, [
    rows.map((r) => r.eventId),
    rows.map((r) => r.topic),
    rows.map((r) => r.key),
    rows.map((r) => r.type),
    rows.map((r) => r.payload),
    rows.map((r) => r.headers),
  ]);
  return rows.map((r) => r.eventId);
}

/** One event; see {@link enqueueMany}. */
export async function enqueue(client: Queryable, message: OutboxMessage): Promise<string> {
  const [eventId] = await enqueueMany(client, [message]);
  return eventId!;
}
