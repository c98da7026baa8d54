import type pg from 'pg';
import { enqueue } from '../../outbox/enqueue.js';
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
import { ConcurrentPaymentWriteError, inInboxTransaction, lockPayment, writePayment, type PaymentRow } from '../../payments/store.js';
import { refundOnce } from '../../payments/stripe-calls.js';
import { Topics } from '../../kafka/topics.js';
import { StripeGatewayError, type StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';
import { PermanentFailure } from '../failures.js';

type Deps = { pool: pg.Pool; gateway: StripeGateway };

const idsOf = (event: { order_id?: string; trip_id?: string }) => ({
  ...(event.order_id ? { order_id: event.order_id } : {}),
  ...(event.trip_id ? { trip_id: event.trip_id } : {}),
});

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
      const aggregateId = aggregateIdOf(event);
      const result = await inInboxTransaction(deps.pool, { consumer, messageId: message.messageId }, async (client) => {
        const current = await lockPayment(client, aggregateId);
        // A failure the row does not show is stale news (a first card declined, a second one paid).
        if (current && current.status !== 'failed') return 'payment_not_failed';
        const data: OrderCancelled = { ...idsOf(event), reason: 'payment_failed' };
        await enqueue(client, { topic: Topics.ordersCancelled, key: aggregateId, type: EventTypes.orderCancelled, data });
        return 'released';
      });
      return result.duplicate ? 'duplicate' : result.value;
    },
  };
}

/**
 * orders.cancelled → give the money back: refund a paid payment (key re:<id>) and announce
 * payments.refunded; stop a payment still waiting; or, if no payment exists yet, record the
 * cancellation so the charge that may still come never happens (or is refunded if it raced).
 */
export function refundHandler(deps: Deps): TopicHandler<OrderCancelledIn> {
  const consumer = 'worker.saga.refund';
  const kindOf = (event: OrderCancelledIn) => (event.order_id ? 'payment_intent' : 'checkout_session');
  return {
    handler: 'saga',
    topic: Topics.ordersCancelled,
    consumer,
    schema: orderCancelledSchema,
    aggregateOf: aggregateIdOf,
    async handle(event, message, known) {
      const aggregateId = aggregateIdOf(event);
      const inbox = { consumer, messageId: message.messageId };
      const inTransaction = async (work: (client: pg.PoolClient, current: PaymentRow | undefined) => Promise<string>) => {
        const result = await inInboxTransaction(deps.pool, inbox, async (client) => work(client, await lockPayment(client, aggregateId)));
        return result.duplicate ? 'duplicate' : result.value;
      };
      // Each branch re-checks the locked row; if it moved since `known` was read, the whole
      // message runs again with the fresh row.
      const changed = () => {
        throw new ConcurrentPaymentWriteError(aggregateId);
      };

      if (!known) {
        return inTransaction(async (client, current) => {
          if (current) return changed();
          await writePayment(client, { aggregateId, kind: kindOf(event), status: 'cancelled', failureMessage: event.reason ?? 'cancelled' }, false);
          return 'cancelled_before_payment';
        });
      }
      switch (known.status) {
        case 'failed':
        case 'cancelled':
        case 'refunded':
          return inTransaction(async () => 'nothing_to_refund');
        case 'pending':
        case 'requires_action': {
          await stopWaitingPayment(deps.gateway, known);
          return inTransaction(async (client, current) => {
            if (current?.status !== known.status) return changed();
            await writePayment(client, { aggregateId, kind: current.kind, status: 'cancelled', failureMessage: event.reason ?? 'cancelled' }, true);
            return 'cancelled_waiting_payment';
          });
        }
        case 'succeeded': {
          if (!known.paymentIntentId) throw new PermanentFailure(`payment ${aggregateId} succeeded but records no PaymentIntent to refund`);
          const refund = await refundOnce(deps.gateway, aggregateId, known.paymentIntentId);
          return inTransaction(async (client, current) => {
            if (current?.status === 'refunded') return 'already_refunded';
            if (current?.status !== 'succeeded') return changed();
            await writePayment(client, { aggregateId, kind: current.kind, status: 'refunded', refundId: refund.refundId, failureCode: null, failureMessage: null }, true);
            const data: PaymentRefunded = {
              ...idsOf(event),
              refund_id: refund.refundId,
              payment_intent_id: known.paymentIntentId!,
              amount: refund.amount,
              currency: current.currency ?? '',
            };
            await enqueue(client, { topic: Topics.paymentsRefunded, key: aggregateId, type: EventTypes.paymentRefunded, data });
            return 'refunded';
          });
        }
      }
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
      throw new StripeGatewayError('retryable', `cannot stop payment ${row.aggregateId} yet: ${error.message}`, { ...error.details, cause: error });
    }
    throw error;
  }
}
