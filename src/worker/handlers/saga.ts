import { InboxConsumers, Topics } from '../../contracts.js';
import { cancellationWork, decideCancellation, decideRelease } from '../../payments/decisions/saga.js';
import {
  aggregateIdOf,
  orderCancelledSchema,
  paymentFailedSchema,
  type OrderCancelledIn,
  type PaymentFailedIn,
} from '../../payments/events.js';
import type { PaymentRow } from '../../payments/row.js';
import { refundOnce, type RefundResult } from '../../payments/stripe-calls.js';
import { StripeGatewayError, type StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';
import { PermanentFailure } from '../failures.js';

type Deps = { gateway: StripeGateway };

/** payments.failed → orders.cancelled: release the order or trip whose payment failed. */
export function releaseHandler(): TopicHandler<PaymentFailedIn> {
  return {
    name: 'saga',
    topic: Topics.paymentsFailed,
    consumer: InboxConsumers.sagaRelease,
    schema: paymentFailedSchema,
    aggregateOf: aggregateIdOf,
    async prepare(event) {
      return (current) => decideRelease(event, current);
    },
  };
}

/**
 * orders.cancelled → give the money back: refund a paid payment (key re:<id>) and announce
 * payments.refunded; stop a payment still waiting; or, if no payment exists yet, record the
 * cancellation so the charge that may still come never happens (or is refunded if it raced).
 */
export function refundHandler(deps: Deps): TopicHandler<OrderCancelledIn> {
  return {
    name: 'saga',
    topic: Topics.ordersCancelled,
    consumer: InboxConsumers.sagaRefund,
    schema: orderCancelledSchema,
    aggregateOf: aggregateIdOf,
    async prepare(event, _message, known) {
      let refund: RefundResult | undefined;
      const work = cancellationWork(known);
      if (work === 'refund') {
        const aggregateId = aggregateIdOf(event);
        if (!known?.paymentIntentId) throw new PermanentFailure(`payment ${aggregateId} succeeded but records no PaymentIntent to refund`);
        refund = await refundOnce(deps.gateway, aggregateId, known.paymentIntentId);
      } else if (work === 'stop_waiting') {
        await stopWaitingPayment(deps.gateway, known!);
      }
      return (current) => decideCancellation(event, known, current, refund);
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
