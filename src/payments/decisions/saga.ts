import { Topics } from '../../contracts.js';
import {
  aggregateIdOf,
  aggregateIdsIn,
  pipelineMessage,
  type OrderCancelled,
  type OrderCancelledIn,
  type PaymentFailedIn,
  type PaymentRefunded,
} from '../events.js';
import { ConcurrentPaymentWriteError, type PaymentRow } from '../row.js';
import type { RefundResult } from '../stripe-calls.js';
import type { Decision } from './decision.js';

/** Releases the order or trip whose payment failed — unless the row says it did not fail. */
export function decideRelease(event: PaymentFailedIn, current: PaymentRow | undefined): Decision {
  // A failure the row does not show is stale news (a first card declined, a second one paid).
  if (current && current.status !== 'failed') return { result: 'payment_not_failed' };
  const data: OrderCancelled = { ...aggregateIdsIn(event), reason: 'payment_failed' };
  return { result: 'released', events: [pipelineMessage(Topics.ordersCancelled, aggregateIdOf(event), data)] };
}

/**
 * What a cancellation has Stripe do before its transaction, given the row as read: refund a paid
 * payment, stop one still waiting (cancel its PaymentIntent or expire its session), or nothing.
 */
export function cancellationWork(known: PaymentRow | undefined): 'refund' | 'stop_waiting' | 'nothing' {
  switch (known?.status) {
    case 'succeeded':
      return 'refund';
    case 'pending':
    case 'requires_action':
      return 'stop_waiting';
    default:
      return 'nothing';
  }
}

/**
 * What a cancellation does, given what was done at Stripe before the transaction (`refund`, or a
 * waiting payment stopped) and the row as it now stands. Anything else than what the work before
 * assumed throws ConcurrentPaymentWriteError: the message starts over from the new row.
 */
export function decideCancellation(
  event: OrderCancelledIn,
  known: PaymentRow | undefined,
  current: PaymentRow | undefined,
  refund: RefundResult | undefined,
): Decision {
  const aggregateId = aggregateIdOf(event);
  const changed = (): never => {
    throw new ConcurrentPaymentWriteError(aggregateId);
  };
  const reason = event.reason ?? 'cancelled';
  if (!known) {
    if (current) return changed();
    // No payment yet: a tombstone keeps the charge that may still come from happening.
    return {
      result: 'cancelled_before_payment',
      write: { aggregateId, kind: event.order_id ? 'payment_intent' : 'checkout_session', status: 'cancelled', failureMessage: reason },
    };
  }
  switch (known.status) {
    case 'failed':
    case 'cancelled':
    case 'refunded':
      return { result: 'nothing_to_refund' };
    case 'pending':
    case 'requires_action':
      if (current?.status !== known.status) return changed();
      return {
        result: 'cancelled_waiting_payment',
        write: { aggregateId, kind: current.kind, status: 'cancelled', failureMessage: reason },
      };
    case 'succeeded': {
      if (current?.status === 'refunded') return { result: 'already_refunded' };
      if (current?.status !== 'succeeded' || !refund) return changed();
      const data: PaymentRefunded = {
        ...aggregateIdsIn(event),
        refund_id: refund.refundId,
        payment_intent_id: current.paymentIntentId!,
        amount: refund.amount,
        currency: current.currency ?? '',
      };
      return {
        result: 'refunded',
        write: { aggregateId, kind: current.kind, status: 'refunded', refundId: refund.refundId },
        events: [pipelineMessage(Topics.paymentsRefunded, aggregateId, data)],
      };
    }
  }
}
