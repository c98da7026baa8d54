import { createHash } from 'node:crypto';
import { Topics } from '../../contracts.js';
import type { OutboxMessage } from '../../outbox/enqueue.js';
import { defined } from '../../optional.js';
import {
  AGGREGATE_ID_FIELDS,
  aggregateIdsIn,
  pipelineMessage,
  type AggregateIds,
  type OrderCancelled,
  type PaymentCompleted,
  type PaymentFailed,
  type PaymentRefunded,
} from '../events.js';
import type { PaymentKind, PaymentRow, PaymentWrite } from '../row.js';
import { canTransition } from '../status.js';
import type { Decision } from './decision.js';

/** What a verified Stripe event can make of a payment. */
export type PaymentOutcome = 'succeeded' | 'failed' | 'refunded';

/** What a Stripe event says about a payment (the webhook's mapping reads it from the event). */
export interface PaymentChange {
  next: PaymentOutcome;
  /** `metadata.order_id ?? metadata.trip_id` of the Stripe object; absent → found by PaymentIntent id */
  aggregateId?: string;
  paymentIntentId?: string;
  checkoutSessionId?: string;
  chargeId?: string;
  /** the kind and idempotency key a row created from this event gets */
  kind: PaymentKind;
  idempotencyKey?: string;
  /** minor units of the payment (not of a refund) */
  amount?: number;
  currency?: string;
  /** the business ids found in the metadata */
  ids: AggregateIds;
  failure?: { reason: string; code?: string; declineCode?: string };
  refund?: { amount: number; refundId?: string };
  /**
   * a PaymentIntent failure with no metadata: final for an order, but only one attempt of a
   * Checkout Session (decided once the row is found)
   */
  finalUnlessCheckout?: boolean;
}

/** What a change did to its row, as webhook_events.outcome records it. */
export type WebhookOutcome =
  | `published:${string}`
  /** the row already had this outcome (the other event of the same payment, or the worker, recorded it) */
  | 'duplicate_transition'
  /** the row is past this news (a late or out-of-order event never moves a terminal state back) */
  | 'stale'
  /** no payments row and no business id in the metadata: not a payment of this pipeline */
  | 'unknown_payment'
  /** a declined attempt inside a Checkout Session: the customer can try again, so nothing is final yet */
  | 'checkout_attempt_failed'
  /**
   * the end of a Checkout Session the trip does not use: made under an idempotency key whose
   * request failed, its URL never reached anyone, and its expiry says nothing about the trip
   */
  | 'other_session';

export interface WebhookResult {
  outcome: WebhookOutcome;
  aggregateId?: string;
  /** the events written to the outbox */
  published?: { topic: string; eventId: string }[];
  /** the row's status when the event did not move it */
  currentStatus?: string;
}

/** The Kafka topic (= CloudEvents type) each outcome is announced on. */
export const OUTCOME_TOPICS = {
  succeeded: Topics.paymentsCompleted,
  failed: Topics.paymentsFailed,
  refunded: Topics.paymentsRefunded,
} as const satisfies Record<PaymentOutcome, string>;

/**
 * What a Stripe event does to the row as it is now (locked): the outcome, the write and the
 * announcements. `source` is the CloudEvents source of the events written.
 */
export function decideWebhookEvent(
  stripeEventId: string,
  change: PaymentChange,
  row: PaymentRow | undefined,
  source: string,
): Decision<WebhookResult> {
  const aggregateId = row?.aggregateId ?? change.aggregateId;
  if (aggregateId === undefined) return { result: { outcome: 'unknown_payment' } };
  if (change.finalUnlessCheckout && (row?.kind ?? change.kind) === 'checkout_session') {
    return { result: { outcome: 'checkout_attempt_failed', aggregateId } };
  }
  // The refund of another PaymentIntent than the row's (a duplicate charge given back, see
  // `reconcile --refund-duplicates`) says nothing about the payment the row records.
  if (change.next === 'refunded' && row?.paymentIntentId && change.paymentIntentId && change.paymentIntentId !== row.paymentIntentId) {
    return { result: { outcome: 'stale', aggregateId, currentStatus: row.status } };
  }
  if (
    change.next === 'failed' &&
    change.checkoutSessionId !== undefined &&
    row?.checkoutSessionId &&
    change.checkoutSessionId !== row.checkoutSessionId
  ) {
    return { result: { outcome: 'other_session', aggregateId, currentStatus: row.status } };
  }
  if (!canTransition(row?.status, change.next)) {
    const fill = row ? missingStripeIds(row, change) : undefined;
    return {
      result: {
        outcome: row?.status === change.next ? 'duplicate_transition' : 'stale',
        aggregateId,
        ...(row ? { currentStatus: row.status } : {}),
      },
      ...(fill ? { write: fill } : {}),
    };
  }
  // A row this event creates needs what a payment always has; without it the event is not ours to record.
  if (!row && (change.amount === undefined || change.currency === undefined || change.idempotencyKey === undefined)) {
    return { result: { outcome: 'unknown_payment', aggregateId } };
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
  const headers = { stripe_event_id: stripeEventId };
  const events: OutboxMessage[] = [
    // Traceable back to Stripe's event, and the same id however often the transaction is retried.
    { ...pipelineMessage(announced.topic, announced.key, announced.data), source, eventId: eventIdFor(stripeEventId), headers },
  ];
  if (row?.status === 'cancelled' && change.next === 'succeeded') {
    // The order or trip was cancelled before this payment went through: the money was taken for
    // something released, and the saga gives it back (as the worker does when its charge races a cancel).
    const data: OrderCancelled = { ...aggregateIdsIn(announced.data), reason: 'cancelled_before_payment' };
    events.push({
      ...pipelineMessage(Topics.ordersCancelled, aggregateId, data),
      source,
      eventId: eventIdFor(`${stripeEventId}:${Topics.ordersCancelled}`),
      headers,
    });
  }
  return {
    result: {
      outcome: `published:${announced.topic}`,
      aggregateId,
      published: events.map((message) => ({ topic: message.topic, eventId: message.eventId! })),
    },
    write,
    events,
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

/**
 * `charge.refunded` names the charge, not the refund (Stripe stopped embedding `refunds` in charges
 * in API version 2022-11-15): refund_id is present only when the payload carries it.
 */
export type WebhookPaymentRefunded = Omit<PaymentRefunded, 'refund_id'> & { refund_id?: string; charge_id?: string };
/** a paid Checkout Session always has its PaymentIntent; the type admits the impossible rather than invent an id */
export type WebhookPaymentCompleted = Omit<PaymentCompleted, 'payment_intent_id'> & { payment_intent_id?: string };

export interface PipelineEvent {
  topic: (typeof OUTCOME_TOPICS)[PaymentOutcome];
  key: string;
  data: WebhookPaymentCompleted | PaymentFailed | WebhookPaymentRefunded;
}

/**
 * The event announcing a change, with the business ids rehydrated: from the Stripe object's
 * metadata first, then from what the payments row knows (a worker-created row, or an event of
 * the same payment that came earlier).
 */
export function pipelineEvent(change: PaymentChange, aggregateId: string, row: PaymentRow | undefined): PipelineEvent {
  const ids = aggregateIds(change, aggregateId, row);
  const paymentIntentId = change.paymentIntentId ?? row?.paymentIntentId ?? undefined;
  const sessionId = change.checkoutSessionId ?? row?.checkoutSessionId ?? undefined;
  const amount = change.amount ?? row?.amount ?? 0;
  const currency = change.currency ?? row?.currency ?? '';
  const topic = OUTCOME_TOPICS[change.next];
  switch (change.next) {
    case 'succeeded': {
      const data: WebhookPaymentCompleted = {
        ...ids,
        ...defined('payment_intent_id', paymentIntentId),
        ...defined('charge_id', change.chargeId),
        ...defined('session_id', sessionId),
        amount,
        currency,
        status: 'succeeded',
      };
      return { topic, key: aggregateId, data };
    }
    case 'failed': {
      const failure = change.failure ?? { reason: 'payment_failed' };
      const data: PaymentFailed = {
        ...ids,
        ...defined('payment_intent_id', paymentIntentId),
        ...defined('session_id', sessionId),
        amount,
        currency,
        ...defined('code', failure.code),
        ...defined('decline_code', failure.declineCode),
        reason: failure.reason,
      };
      return { topic, key: aggregateId, data };
    }
    case 'refunded': {
      const data: WebhookPaymentRefunded = {
        ...ids,
        ...defined('refund_id', change.refund?.refundId),
        ...defined('charge_id', change.chargeId),
        ...defined('payment_intent_id', paymentIntentId),
        amount: change.refund?.amount ?? amount,
        currency,
      } as WebhookPaymentRefunded;
      return { topic, key: aggregateId, data };
    }
  }
}

function aggregateIds(change: PaymentChange, aggregateId: string, row: PaymentRow | undefined): AggregateIds {
  const ids: AggregateIds = { ...aggregateIdsIn(row?.metadata ?? {}), ...change.ids };
  if (ids.order_id === undefined && ids.trip_id === undefined) {
    if ((row?.kind ?? change.kind) === 'checkout_session') ids.trip_id = aggregateId;
    else ids.order_id = aggregateId;
  }
  return ids;
}

/** The ids to remember on the payments row (its metadata), so later events can be rehydrated. */
function rowMetadata(ids: AggregateIds): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of AGGREGATE_ID_FIELDS) if (ids[field] !== undefined) out[field] = ids[field]!;
  return out;
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
