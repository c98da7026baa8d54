import {
  aggregateIdOf,
  EventTypes,
  orderCancelledSchema,
  paymentFailedSchema,
  type OrderCancelled,
  type OrderCancelledIn,
  type PaymentFailedIn,
  type PaymentRefunded,
} from '../../payments/events.js';
import type { Decision, GroupCommitter } from '../../payments/group-commit.js';
import { ConcurrentPaymentWriteError, type PaymentRow } from '../../payments/store.js';
import { refundOnce, type RefundResult } from '../../payments/stripe-calls.js';
import { Topics } from '../../kafka/topics.js';
import { StripeGatewayError, type StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';
import { PermanentFailure } from '../failures.js';

type Deps = { committer: GroupCommitter; gateway: StripeGateway };

const idsOf = (event: { order_id?: string; trip_id?: string }) => ({
  ...(event.order_id ? { order_id: event.order_id } : {}),
  ...(event.trip_id ? { trip_id: event.trip_id } : {}),
});

/** Releases the order or trip whose payment failed — unless the row says it did not fail. */
export function decideRelease(event: PaymentFailedIn, current: PaymentRow | undefined): Decision {
  // A failure the row does not show is stale news (a first card declined, a second one paid).
  if (current && current.status !== 'failed') return { result: 'payment_not_failed' };
  const data: OrderCancelled = { ...idsOf(event), reason: 'payment_failed' };
  return {
    result: 'released',
    events: [{ topic: Topics.ordersCancelled, key: aggregateIdOf(event), type: EventTypes.orderCancelled, data }],
  };
}

/** payments.failed → orders.cancelled: release the order or trip whose payment failed. */
export function releaseHandler(deps: Deps): TopicHandler<PaymentFailedIn> {
  const consumer = 'worker.saga.release';
  return {
    handler: 'saga',
    topic: Topics.paymentsFailed,
    consumer,
    schema: paymentFailedSchema,
    aggregateOf: aggregateIdOf,
    async handle(event, message) {
      const committed = await deps.committer.submit({ consumer, messageId: message.messageId }, aggregateIdOf(event), (current) =>
        decideRelease(event, current),
      );
      return committed.duplicate ? 'duplicate' : committed.value;
    },
  };
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
        ...idsOf(event),
        refund_id: refund.refundId,
        payment_intent_id: current.paymentIntentId!,
        amount: refund.amount,
        currency: current.currency ?? '',
      };
      return {
        result: 'refunded',
        write: { aggregateId, kind: current.kind, status: 'refunded', refundId: refund.refundId },
        events: [{ topic: Topics.paymentsRefunded, key: aggregateId, type: EventTypes.paymentRefunded, data }],
      };
    }
  }
}

/**
 * orders.cancelled → give the money back: refund a paid payment (key re:<id>) and announce
 * payments.refunded; stop a payment still waiting; or, if no payment exists yet, record the
 * cancellation so the charge that may still come never happens (or is refunded if it raced).
 */
export function refundHandler(deps: Deps): TopicHandler<OrderCancelledIn> {
  const consumer = 'worker.saga.refund';
  return {
    handler: 'saga',
    topic: Topics.ordersCancelled,
    consumer,
    schema: orderCancelledSchema,
    aggregateOf: aggregateIdOf,
    async handle(event, message, known) {
      const aggregateId = aggregateIdOf(event);
      let refund: RefundResult | undefined;
      if (known?.status === 'succeeded') {
        if (!known.paymentIntentId) throw new PermanentFailure(`payment ${aggregateId} succeeded but records no PaymentIntent to refund`);
        refund = await refundOnce(deps.gateway, aggregateId, known.paymentIntentId);
      } else if (known?.status === 'pending' || known?.status === 'requires_action') {
        await stopWaitingPayment(deps.gateway, known);
      }
      const committed = await deps.committer.submit({ consumer, messageId: message.messageId }, aggregateId, (current) =>
        decideCancellation(event, known, current, refund),
      );
      return committed.duplicate ? 'duplicate' : committed.value;
    },
  };
}

/**
 * Stops a payment that has not completed: cancels its PaymentIntent or expires its Checkout
 * Session. If Stripe says it is too late (it completed meanwhile), the message is retried later,
 * when the completion is recorded and the refund path applies.
 */
async function stopWaitingPayment(gateway: StripeGateway, row: PaymentRow): Promise<void> {
  try {
    if (row.kind === 'checkout_session' && row.checkoutSessionId) await gateway.expireCheckoutSession(row.checkoutSessionId);
    else if (row.paymentIntentId) await gateway.cancelPaymentIntent(row.paymentIntentId);
  } catch (error) {
    if (error instanceof StripeGatewayError && error.kind === 'invalid' && error.details.statusCode === 400) {
      throw new StripeGatewayError('retryable', `cannot stop payment ${row.aggregateId} yet: ${error.message}`, {
        ...error.details,
        cause: error,
      });
    }
    throw error;
  }
}
