import { z } from 'zod';
import type { Topic } from '../contracts.js';
import type { OutboxMessage } from '../outbox/enqueue.js';

/**
 * The pipeline's event payloads (the Kafka value; the CloudEvents attributes travel in headers).
 * Money is integer minor units; only the session-created event, which a browser reads, also
 * carries the major-unit amount. Unknown fields in incoming events are ignored.
 */

const id = z.string().trim().min(1).max(255);
const minorUnits = z.number().int().positive().max(99_999_999_999);
const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'a three-letter ISO currency code')
  .transform((code) => code.toLowerCase());

/** orders.placed — charge an order with a saved payment method (bookstore seed). */
export const orderPlacedSchema = z.object({
  order_id: id,
  amount: minorUnits,
  currency,
  customer: id.optional(),
  payment_method: id,
});
export type OrderPlaced = z.infer<typeof orderPlacedSchema>;

/** checkout.requested — create a hosted Checkout Session for a trip (ride-share seed). */
export const checkoutRequestedSchema = z.object({
  trip_id: id,
  user_id: id,
  driver_id: id,
  amount: minorUnits,
  currency,
});
export type CheckoutRequested = z.infer<typeof checkoutRequestedSchema>;

const aggregateRef = z.object({ order_id: id.optional(), trip_id: id.optional() });
const hasAggregate = (value: { order_id?: string; trip_id?: string }) => value.order_id !== undefined || value.trip_id !== undefined;
const aggregateMessage = { message: 'order_id or trip_id is required' };

/** payments.failed — as consumed by the saga: which order or trip to release. */
export const paymentFailedSchema = aggregateRef.extend({ reason: z.string().optional() }).refine(hasAggregate, aggregateMessage);
export type PaymentFailedIn = z.infer<typeof paymentFailedSchema>;

/** orders.cancelled — release an order or trip; refund it if it was paid. */
export const orderCancelledSchema = aggregateRef.extend({ reason: z.string().optional() }).refine(hasAggregate, aggregateMessage);
export type OrderCancelledIn = z.infer<typeof orderCancelledSchema>;

/** The aggregate (payments row, Kafka key, idempotency key suffix) an event is about. */
export function aggregateIdOf(value: { order_id?: string; trip_id?: string }): string {
  return (value.order_id ?? value.trip_id)!;
}

export interface AggregateIds {
  order_id?: string;
  trip_id?: string;
  user_id?: string;
  driver_id?: string;
  /** an order's customer: whose transaction history its money belongs to */
  customer?: string;
}

export const AGGREGATE_ID_FIELDS = ['order_id', 'trip_id', 'user_id', 'driver_id', 'customer'] as const;

/** The business ids that `source` (an event, a Stripe object's metadata) names, and nothing else of it. */
export function aggregateIdsIn(source: Partial<Record<(typeof AGGREGATE_ID_FIELDS)[number], string>>): AggregateIds {
  const ids: AggregateIds = {};
  for (const field of AGGREGATE_ID_FIELDS) if (source[field]) ids[field] = source[field];
  return ids;
}

export interface PaymentCompleted extends AggregateIds {
  payment_intent_id: string;
  charge_id?: string;
  session_id?: string;
  amount: number;
  currency: string;
  status: 'succeeded';
}

export interface PaymentFailed extends AggregateIds {
  payment_intent_id?: string;
  session_id?: string;
  amount: number;
  currency: string;
  /** Stripe's error code, e.g. card_declined */
  code?: string;
  /** the issuer's reason, e.g. insufficient_funds */
  decline_code?: string;
  reason: string;
}

export interface OrderCancelled extends AggregateIds {
  reason: string;
}

export interface PaymentRefunded extends AggregateIds {
  refund_id: string;
  payment_intent_id: string;
  amount: number;
  currency: string;
}

export interface CheckoutSessionCreated {
  trip_id: string;
  user_id: string;
  driver_id: string;
  session_id: string;
  url: string;
  /** major units, for the rider's browser (19.99) */
  amount: number;
  /** integer minor units (1999) */
  amount_minor: number;
  currency: string;
}

/** An event of the pipeline, as written to the outbox: its CloudEvents type is its topic's name. */
export function pipelineMessage(topic: Topic, key: string, data: unknown): OutboxMessage {
  return { topic, key, type: topic, data };
}

/**
 * payments.completed, payments.refunded and payments.failed — as the history handler reads them:
 * the ids that name the user and the money. Amount and currency may be missing from a failure
 * (the payments row then says them).
 */
const historyRef = aggregateRef.extend({
  user_id: id.optional(),
  customer: id.optional(),
  payment_intent_id: id.optional(),
  charge_id: id.optional(),
  session_id: id.optional(),
});
export const paymentCompletedInSchema = historyRef.extend({ amount: minorUnits, currency }).refine(hasAggregate, aggregateMessage);
export type PaymentCompletedIn = z.infer<typeof paymentCompletedInSchema>;
export const paymentRefundedInSchema = historyRef
  .extend({ refund_id: id.optional(), amount: minorUnits, currency })
  .refine(hasAggregate, aggregateMessage);
export type PaymentRefundedIn = z.infer<typeof paymentRefundedInSchema>;
export const paymentFailedInSchema = historyRef
  .extend({ amount: minorUnits.optional(), currency: currency.optional(), code: z.string().optional(), reason: z.string().optional() })
  .refine(hasAggregate, aggregateMessage);
export type PaymentFailedHistoryIn = z.infer<typeof paymentFailedInSchema>;
