import { defined } from '../optional.js';
import type { PaymentChange, PaymentOutcome } from '../payments/decisions/webhook-event.js';
import { aggregateIdsIn } from '../payments/events.js';
import { IdempotencyKey } from '../stripe/gateway.js';

/**
 * What a verified Stripe event says about a payment: which row, which state, which ids (a
 * PaymentChange). Pure: the durable store (store.ts) decides what that does to the row as it is
 * then (payments/decisions/webhook-event.ts) and applies it in one transaction.
 */

/** The part of a Stripe Event this receiver relies on. Everything else is kept only in the stored payload. */
export interface StripeEvent {
  id: string;
  type: string;
  created?: number;
  data: { object: Record<string, unknown> };
}

const MAX_EVENT_ID_LENGTH = 255;

/** The event in a verified body, or undefined when the body is not a JSON Stripe event. */
export function parseStripeEvent(raw: Buffer): StripeEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const { id, type, data } = value;
  if (typeof id !== 'string' || id === '' || id.length > MAX_EVENT_ID_LENGTH) return undefined;
  if (typeof type !== 'string' || type === '') return undefined;
  if (!isRecord(data) || !isRecord(data.object)) return undefined;
  return value as unknown as StripeEvent;
}

/** Why a verified event changes nothing. Each is answered 2xx: a retry would change nothing either. */
export type IgnoredOutcome =
  /** a type this pipeline does not act on */
  | 'ignored_type'
  /** checkout completed, but a delayed payment method has not settled (async_payment_* follows) */
  | 'awaiting_payment'
  /** checkout completed without any payment (a 100% discount) */
  | 'no_payment_required'
  /** part of a charge was refunded; the payment stands */
  | 'partial_refund'
  /** a declined attempt inside a Checkout Session: the customer can try again, so nothing is final yet */
  | 'checkout_attempt_failed';

export type EventPlan =
  | { action: 'ignore'; outcome: IgnoredOutcome }
  | { action: 'missing_metadata'; missing: string[]; object: string }
  | { action: 'apply'; change: PaymentChange };

/** Metadata a ride-share Checkout Session must carry for its payment to be announced (seed). */
export const REQUIRED_TRIP_METADATA = ['trip_id', 'user_id', 'driver_id'] as const;

export function planEvent(event: StripeEvent): EventPlan {
  const object = event.data.object;
  switch (event.type) {
    case 'checkout.session.completed': {
      const status = text(object.payment_status);
      if (status === 'unpaid') return { action: 'ignore', outcome: 'awaiting_payment' };
      if (status === 'no_payment_required') return { action: 'ignore', outcome: 'no_payment_required' };
      if (status !== 'paid') return { action: 'ignore', outcome: 'awaiting_payment' };
      return fromSession(object, 'succeeded');
    }
    case 'checkout.session.async_payment_succeeded':
      return fromSession(object, 'succeeded');
    case 'checkout.session.async_payment_failed':
      return fromSession(object, 'failed', { reason: 'checkout_session_async_payment_failed' });
    case 'checkout.session.expired':
      return fromSession(object, 'failed', { reason: 'checkout_session_expired' });
    case 'payment_intent.succeeded':
      return fromPaymentIntent(object, 'succeeded');
    case 'payment_intent.payment_failed':
      return fromPaymentIntent(object, 'failed');
    case 'charge.refunded':
      return fromCharge(object);
    default:
      return { action: 'ignore', outcome: 'ignored_type' };
  }
}

/** Which required ids are missing: none when the object names an order (bookstore), else the trip's three. */
export function missingMetadata(metadata: Record<string, string>): string[] {
  if (metadata.order_id) return [];
  return REQUIRED_TRIP_METADATA.filter((field) => !metadata[field]);
}

function fromSession(session: Record<string, unknown>, next: PaymentOutcome, failure?: { reason: string }): EventPlan {
  const metadata = metadataOf(session);
  const missing = missingMetadata(metadata);
  const sessionId = text(session.id);
  if (missing.length) return { action: 'missing_metadata', missing, object: sessionId ?? 'checkout.session' };
  const ids = aggregateIdsIn(metadata);
  return {
    action: 'apply',
    change: {
      next,
      aggregateId: (ids.order_id ?? ids.trip_id)!,
      ...defined('paymentIntentId', idOf(session.payment_intent)),
      ...defined('checkoutSessionId', sessionId),
      kind: 'checkout_session',
      idempotencyKey: ids.trip_id ? IdempotencyKey.checkoutSession(ids.trip_id) : IdempotencyKey.paymentIntent(ids.order_id!),
      ...defined('amount', minorUnits(session.amount_total)),
      ...defined('currency', currencyOf(session.currency)),
      ids,
      ...(failure ? { failure } : {}),
    },
  };
}

function fromPaymentIntent(intent: Record<string, unknown>, next: PaymentOutcome): EventPlan {
  const metadata = metadataOf(intent);
  const ids = aggregateIdsIn(metadata);
  // Our gateway puts trip_id on the PaymentIntents of Checkout Sessions only.
  const fromCheckout = ids.trip_id !== undefined;
  if (fromCheckout) {
    const missing = missingMetadata(metadata);
    if (missing.length) return { action: 'missing_metadata', missing, object: text(intent.id) ?? 'payment_intent' };
    if (next === 'failed') return { action: 'ignore', outcome: 'checkout_attempt_failed' };
  }
  const error = isRecord(intent.last_payment_error) ? intent.last_payment_error : undefined;
  const aggregateId = ids.order_id ?? ids.trip_id;
  return {
    action: 'apply',
    change: {
      next,
      ...defined('aggregateId', aggregateId),
      ...defined('paymentIntentId', text(intent.id)),
      ...defined('chargeId', idOf(intent.latest_charge)),
      kind: fromCheckout ? 'checkout_session' : 'payment_intent',
      ...defined(
        'idempotencyKey',
        fromCheckout ? IdempotencyKey.checkoutSession(ids.trip_id!) : ids.order_id && IdempotencyKey.paymentIntent(ids.order_id),
      ),
      ...defined(
        'amount',
        next === 'succeeded' ? (positive(intent.amount_received) ?? minorUnits(intent.amount)) : minorUnits(intent.amount),
      ),
      ...defined('currency', currencyOf(intent.currency)),
      ids,
      ...(next === 'failed'
        ? {
            failure: {
              reason: text(error?.message) ?? 'payment_intent_payment_failed',
              ...defined('code', text(error?.code)),
              ...defined('declineCode', text(error?.decline_code)),
            },
            ...(aggregateId === undefined ? { finalUnlessCheckout: true } : {}),
          }
        : {}),
    },
  };
}

function fromCharge(charge: Record<string, unknown>): EventPlan {
  // charge.refunded also fires for partial refunds; only a charge refunded in full ends the payment.
  if (charge.refunded !== true) return { action: 'ignore', outcome: 'partial_refund' };
  const metadata = metadataOf(charge);
  const ids = aggregateIdsIn(metadata);
  const aggregateId = ids.order_id ?? ids.trip_id;
  return {
    action: 'apply',
    change: {
      next: 'refunded',
      ...defined('aggregateId', aggregateId),
      ...defined('paymentIntentId', idOf(charge.payment_intent)),
      ...defined('chargeId', text(charge.id)),
      kind: ids.trip_id !== undefined ? 'checkout_session' : 'payment_intent',
      ...defined(
        'idempotencyKey',
        ids.trip_id ? IdempotencyKey.checkoutSession(ids.trip_id) : ids.order_id && IdempotencyKey.paymentIntent(ids.order_id),
      ),
      ...defined('amount', minorUnits(charge.amount)),
      ...defined('currency', currencyOf(charge.currency)),
      ids,
      refund: {
        amount: minorUnits(charge.amount_refunded) ?? minorUnits(charge.amount) ?? 0,
        ...defined('refundId', latestRefundId(charge)),
      },
    },
  };
}

function metadataOf(object: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(object.metadata)) return out;
  for (const [key, value] of Object.entries(object.metadata)) {
    if (typeof value === 'string' && value.trim() !== '') out[key] = value.trim();
  }
  return out;
}

function latestRefundId(charge: Record<string, unknown>): string | undefined {
  const refunds = isRecord(charge.refunds) && Array.isArray(charge.refunds.data) ? charge.refunds.data : [];
  const last = refunds.at(0);
  return isRecord(last) ? text(last.id) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An id, or the id of an expanded object. */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'string') return text(value);
  return isRecord(value) ? text(value.id) : undefined;
}

function minorUnits(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function positive(value: unknown): number | undefined {
  const n = minorUnits(value);
  return n !== undefined && n > 0 ? n : undefined;
}

function currencyOf(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z]{3}$/.test(value) ? value.toLowerCase() : undefined;
}
