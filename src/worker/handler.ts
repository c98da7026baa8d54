import type { z } from 'zod';
import type { Decide } from '../payments/decisions/decision.js';
import type { PaymentRow } from '../payments/row.js';

export type HandlerName = 'payments' | 'checkout' | 'saga' | 'history';
export const HANDLER_NAMES: readonly HandlerName[] = ['payments', 'checkout', 'saga', 'history'];

/** A consumed message as handlers see it. */
export interface InboundMessage {
  /** the Kafka topic it was read from (a retry topic included, prefix included) */
  topic: string;
  partition: number;
  offset: string;
  headers: Record<string, string>;
  /** the inbox id: CloudEvents id, or where the message first landed */
  messageId: string;
  /** failures before this delivery */
  attempts: number;
  /** when the event came into being (ce_time, else the first Kafka timestamp) */
  eventTime: Date;
}

/**
 * One consumed topic's business logic. The engine parses and validates, dedupes through the inbox,
 * and routes failures; `prepare` does the work outside the transaction (the Stripe call) and
 * returns how to decide against the row as locked inside it (payments/decisions/). The engine
 * commits that decision with the inbox row in one transaction; its result ("succeeded",
 * "declined", ...) goes to metrics and logs.
 */
export interface TopicHandler<T = unknown> {
  /** the `--handlers` name it belongs to; a metrics label */
  name: HandlerName;
  /** the logical topic, without prefix: orders.placed, ... */
  topic: string;
  /** inbox consumer name (contracts.ts): a message is applied once per consumer */
  consumer: string;
  schema: z.ZodType<T>;
  aggregateOf(data: T): string;
  /** `known`: the payments row read before the call, a hint only (the transaction re-reads it locked) */
  prepare(data: T, message: InboundMessage, known: PaymentRow | undefined): Promise<Decide>;
}
