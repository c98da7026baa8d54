import { defined } from '../../optional.js';
import type { PaymentRow } from '../row.js';
import type { TransactionEntry, TransactionKind } from '../transactions.js';
import type { Decision } from './decision.js';

/** A payments.completed / .refunded / .failed event as the history reads it, whatever its producer. */
export interface MoneyEvent {
  kind: TransactionKind;
  /** the CloudEvents id: the entry's identity */
  eventId: string;
  occurredAt: Date;
  aggregateId: string;
  userId?: string;
  amount?: number;
  currency?: string;
  paymentIntentId?: string;
  chargeId?: string;
  refundId?: string;
  checkoutSessionId?: string;
  failureReason?: string;
}

export type HistoryResult = `recorded_${TransactionKind}` | 'skipped_missing_user' | 'skipped_missing_amount';

/**
 * Whose money moved: the user the event names (a trip's rider from the Checkout Session's
 * metadata, an order's customer from the order or its PaymentIntent's metadata), else the one the
 * payments row remembers — the trip's `user_id`, or the order's `customer`.
 */
export function userOf(event: MoneyEvent, row: PaymentRow | undefined): string | undefined {
  return event.userId || row?.metadata.user_id || row?.metadata.customer || undefined;
}

/**
 * The history entry a money event appends, decided against the order's or trip's payments row as
 * locked in the transaction. An event that names no user, and whose row names none either, is
 * skipped with the reason (the ride-share seed's rule for a payment without metadata): no entry
 * could ever be read back by anyone.
 */
export function decideHistoryEntry(event: MoneyEvent, current: PaymentRow | undefined): Decision<HistoryResult> {
  const userId = userOf(event, current);
  if (!userId) {
    return {
      result: 'skipped_missing_user',
      skipped: `${event.kind} of ${event.aggregateId} names no user: no user_id in the event, no user_id or customer on its payments row${current ? '' : ' (there is none)'}`,
    };
  }
  const amount = event.amount ?? current?.amount ?? undefined;
  const currency = event.currency ?? current?.currency ?? undefined;
  if (amount === undefined || !currency) {
    return {
      result: 'skipped_missing_amount',
      skipped: `${event.kind} of ${event.aggregateId} for ${userId} says no amount and its payments row knows none`,
    };
  }
  const entry: TransactionEntry = {
    eventId: event.eventId,
    userId,
    aggregateId: event.aggregateId,
    kind: event.kind,
    amount,
    currency,
    ...defined('paymentIntentId', event.paymentIntentId ?? current?.paymentIntentId),
    ...defined('chargeId', event.chargeId),
    ...defined('refundId', event.refundId ?? (event.kind === 'refund' ? current?.refundId : undefined)),
    ...defined('checkoutSessionId', event.checkoutSessionId ?? current?.checkoutSessionId),
    ...defined('failureReason', event.kind === 'failed' ? (event.failureReason ?? current?.failureMessage ?? 'payment_failed') : undefined),
    occurredAt: event.occurredAt,
  };
  return { result: `recorded_${event.kind}`, transactions: [entry] };
}
