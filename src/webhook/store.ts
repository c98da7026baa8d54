import { withTransactionClient } from '../db/connect.js';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { enqueueMany, type OutboxMessage } from '../outbox/enqueue.js';
import { canTransition } from '../payments/status.js';
import {
  ConcurrentPaymentWriteError,
  findPaymentByIntent,
  lockPayment,
  writePayment,
  type PaymentRow,
  type PaymentWrite,
} from '../payments/store.js';
import { EventTypes, type OrderCancelled } from '../payments/events.js';
import { OUTCOME_TOPICS, pipelineEvent, rowMetadata, type EventPlan, type PaymentChange, type StripeEvent } from './mapping.js';

/**
 * The durable write behind every 2xx: the Stripe event id (unique in webhook_events), the payments
 * row's move and the pipeline event announcing it (outbox) commit in ONE transaction. A second
 * delivery of the same event finds its id and changes nothing; a failure rolls everything back,
 * so Stripe's retry finds nothing half done.
 */

/** What the event did, as stored in webhook_events.outcome. */
export type StoredOutcome =
  | `published:${string}`
  /** the row already had this outcome (the other event of the same payment, or the worker, recorded it) */
  | 'duplicate_transition'
  /** the row is past this news (a late or out-of-order event never moves a terminal state back) */
  | 'stale'
  /** no payments row and no business id in the metadata: not a payment of this pipeline */
  | 'unknown_payment'
  | 'missing_metadata'
  | 'ignored_type'
  | 'awaiting_payment'
  | 'no_payment_required'
  | 'partial_refund'
  | 'checkout_attempt_failed';

export type RecordResult =
  | { duplicate: true }
  | {
      duplicate: false;
      outcome: StoredOutcome;
      aggregateId?: string;
      /** the events written to the outbox */
      published?: { topic: string; eventId: string }[];
      /** the row's status when the event did not move it */
      currentStatus?: string;
    };

export interface RecordOptions {
  /** CloudEvents source of the events written */
  source: string;
  /** attempts when a concurrent writer created the same payments row first, or on a deadlock */
  maxAttempts?: number;
}

// Named: parsed once per connection (an insert has no plan that could go stale as tables grow).
const INSERT_EVENT = {
  name: 'paymentsctl-webhook-event',
  text: 'INSERT INTO webhook_events (stripe_event_id, type, outcome, payload) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (stripe_event_id) DO NOTHING',
} as const;
export const SET_OUTCOME = 'UPDATE webhook_events SET outcome = $2 WHERE stripe_event_id = $1';
export const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/** The outcome written with the event before the transaction knows better (saves a round trip when it is right). */
export function provisionalOutcome(plan: EventPlan): StoredOutcome {
  if (plan.action === 'ignore') return plan.outcome;
  if (plan.action === 'missing_metadata') return 'missing_metadata';
  return `published:${OUTCOME_TOPICS[plan.change.next]}`;
}

export async function recordWebhookEvent(
  pool: pg.Pool,
  event: StripeEvent,
  payload: string,
  plan: EventPlan,
  options: RecordOptions,
): Promise<RecordResult> {
  if (plan.action !== 'apply') {
    // One statement: nothing else to commit with it.
    const inserted = await pool.query({ ...INSERT_EVENT, values: [event.id, event.type, provisionalOutcome(plan), payload] });
    return inserted.rowCount === 0 ? { duplicate: true } : { duplicate: false, outcome: provisionalOutcome(plan) };
  }
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyInTransaction(pool, event, payload, plan.change, options);
    } catch (error) {
      const retry = error instanceof ConcurrentPaymentWriteError || RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? '');
      if (!retry || attempt >= maxAttempts) throw error;
    }
  }
}

/**
 * One transaction in three round trips: the connection is pipelined (queries are sent without
 * waiting for the previous answer), so each step sends everything it already knows at once.
 *   1. BEGIN, claim the event id, lock the payments row;
 *   2. the row's move, the outbox events and the outcome;
 *   3. COMMIT — on its own, after step 2 is known to have fully succeeded: a COMMIT sent behind a
 *      write that did nothing (a row created concurrently) would commit the rest without it.
 * A step that errors aborts the transaction, so whatever was sent behind it cannot commit.
 */
async function applyInTransaction(
  pool: pg.Pool,
  event: StripeEvent,
  payload: string,
  change: PaymentChange,
  options: RecordOptions,
): Promise<RecordResult> {
  return withTransactionClient(pool, async (client) => {
    const provisional = provisionalOutcome({ action: 'apply', change });
    const [, inserted, row] = await Promise.all(
      oneWrite(client, () => [
        client.query('BEGIN'),
        // A concurrent delivery of the same event waits here until the first commits, then sees its row.
        client.query({ ...INSERT_EVENT, values: [event.id, event.type, provisional, payload] }),
        change.aggregateId !== undefined
          ? lockPayment(client, change.aggregateId)
          : change.paymentIntentId !== undefined
            ? findPaymentByIntent(client, change.paymentIntentId, { lock: true })
            : undefined,
      ]),
    );
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK');
      return { duplicate: true };
    }
    const decision = decide(event, change, row, options);
    // Nothing announced: a COMMIT behind the outcome (and an id fill-in that may be lost) is safe.
    const announces = decision.messages.length > 0;
    const steps = oneWrite(client, () => {
      const sent: Promise<unknown>[] = [];
      if (decision.result.outcome !== provisional) sent.push(client.query(SET_OUTCOME, [event.id, decision.result.outcome]));
      if (decision.payment) sent.push(writePayment(client, decision.payment.write, decision.payment.existed));
      if (announces) sent.push(enqueueMany(client, decision.messages));
      else sent.push(client.query('COMMIT'));
      return sent;
    });
    await Promise.all(steps);
    if (announces) await client.query('COMMIT');
    return decision.result;
  });
}

/**
 * Runs `send`, which issues pipelined queries, so that they leave in one TCP write: pg writes each
 * query on its own, and on loopback every write costs the receiver's wake-up too. Only buffering
 * changes; order and content are what `send` issued.
 */
export function oneWrite<T>(client: pg.PoolClient, send: () => T): T {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  stream?.cork?.();
  try {
    return send();
  } finally {
    stream?.uncork?.();
  }
}

export interface Decision {
  result: RecordResult & { duplicate: false };
  payment?: { write: PaymentWrite; existed: boolean };
  messages: OutboxMessage[];
}

/** What the event does to the row as it is now (locked): the outcome, the write and the announcements. */
export function decide(event: StripeEvent, change: PaymentChange, row: PaymentRow | undefined, options: RecordOptions): Decision {
  const aggregateId = row?.aggregateId ?? change.aggregateId;
  if (aggregateId === undefined) return { result: { duplicate: false, outcome: 'unknown_payment' }, messages: [] };
  if (change.finalUnlessCheckout && (row?.kind ?? change.kind) === 'checkout_session') {
    return { result: { duplicate: false, outcome: 'checkout_attempt_failed', aggregateId }, messages: [] };
  }
  if (!canTransition(row?.status, change.next)) {
    const fill = row ? missingStripeIds(row, change) : undefined;
    return {
      result: {
        duplicate: false,
        outcome: row?.status === change.next ? 'duplicate_transition' : 'stale',
        aggregateId,
        ...(row ? { currentStatus: row.status } : {}),
      },
      ...(fill ? { payment: { write: fill, existed: true } } : {}),
      messages: [],
    };
  }
  // A row this event creates needs what a payment always has; without it the event is not ours to record.
  if (!row && (change.amount === undefined || change.currency === undefined || change.idempotencyKey === undefined)) {
    return { result: { duplicate: false, outcome: 'unknown_payment', aggregateId }, messages: [] };
  }
  const announced = pipelineEvent(change, aggregateId, row);
  const write: PaymentWrite = {
    aggregateId,
    kind: row?.kind ?? change.kind,
    status: change.next,
    amount: row?.amount ?? change.amount ?? null,
    currency: row?.currency ?? change.currency ?? null,
    idempotencyKey: row?.idempotencyKey ?? change.idempotencyKey ?? null,
    ...(change.paymentIntentId ? { paymentIntentId: change.paymentIntentId } : {}),
    ...(change.checkoutSessionId ? { checkoutSessionId: change.checkoutSessionId } : {}),
    ...(change.refund?.refundId ? { refundId: change.refund.refundId } : {}),
    failureCode: change.failure ? (change.failure.declineCode ?? change.failure.code ?? null) : null,
    failureMessage: change.failure?.reason ?? null,
    metadata: rowMetadata(change.ids),
  };
  const headers = { stripe_event_id: event.id };
  const messages: OutboxMessage[] = [
    // Traceable back to Stripe's event, and the same id however often the transaction is retried.
    {
      topic: announced.topic,
      key: announced.key,
      type: announced.topic,
      data: announced.data,
      source: options.source,
      eventId: eventIdFor(event.id),
      headers,
    },
  ];
  if (row?.status === 'cancelled' && change.next === 'succeeded') {
    // The order or trip was cancelled before this payment went through: the money was taken for
    // something released, and the saga gives it back (as the worker does when its charge races a cancel).
    const data: OrderCancelled = { ...cancelIds(announced.data), reason: 'cancelled_before_payment' };
    messages.push({
      topic: EventTypes.orderCancelled,
      key: aggregateId,
      type: EventTypes.orderCancelled,
      data,
      source: options.source,
      eventId: eventIdFor(`${event.id}:${EventTypes.orderCancelled}`),
      headers,
    });
  }
  return {
    result: {
      duplicate: false,
      outcome: `published:${announced.topic}`,
      aggregateId,
      published: messages.map((message) => ({ topic: message.topic, eventId: message.eventId! })),
    },
    payment: { write, existed: row !== undefined },
    messages,
  };
}

/**
 * News that moves nothing may still name what the row lacks: the Checkout Session of a payment
 * first recorded from its PaymentIntent's event (or the other way round). Operators and
 * reconciliation look rows up by these ids.
 */
function missingStripeIds(row: PaymentRow, change: PaymentChange): PaymentWrite | undefined {
  const paymentIntentId = !row.paymentIntentId ? change.paymentIntentId : undefined;
  const checkoutSessionId = !row.checkoutSessionId ? change.checkoutSessionId : undefined;
  if (!paymentIntentId && !checkoutSessionId) return undefined;
  return {
    aggregateId: row.aggregateId,
    kind: row.kind,
    status: row.status,
    failureCode: row.failureCode,
    failureMessage: row.failureMessage,
    ...(paymentIntentId ? { paymentIntentId } : {}),
    ...(checkoutSessionId ? { checkoutSessionId } : {}),
  };
}

function cancelIds(data: { order_id?: string; trip_id?: string; user_id?: string; driver_id?: string }) {
  const { order_id, trip_id, user_id, driver_id } = data;
  return {
    ...(order_id ? { order_id } : {}),
    ...(trip_id ? { trip_id } : {}),
    ...(user_id ? { user_id } : {}),
    ...(driver_id ? { driver_id } : {}),
  };
}

// A fixed namespace for name-based (RFC 4122 version 5) event ids.
const NAMESPACE = Buffer.from('8f1c2a64b7d34e0a9b5e3c6d1f2a7b90', 'hex');

/** The outbox event id for a Stripe event: a UUID (v5) derived from the Stripe event id. */
export function eventIdFor(stripeEventId: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(`stripe:${stripeEventId}`, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
