import type pg from 'pg';
import { enqueueMany, type OutboxMessage } from '../../outbox/enqueue.js';
import { EventTypes, orderPlacedSchema, type OrderCancelled, type OrderPlaced, type PaymentCompleted, type PaymentFailed } from '../../payments/events.js';
import { canTransition, type PaymentStatus } from '../../payments/status.js';
import { inInboxTransaction, lockPayment, writePayment } from '../../payments/store.js';
import { chargeOrderOnce, type ChargeResult } from '../../payments/stripe-calls.js';
import { Topics } from '../../kafka/topics.js';
import type { StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';

/** How far before the event's own time a lookup of its PaymentIntent starts (clock skew). */
const LOOKUP_MARGIN_SECONDS = 600;

function statusOf(result: ChargeResult): PaymentStatus {
  switch (result.status) {
    case 'succeeded':
      return 'succeeded';
    case 'declined':
      return 'failed';
    case 'requires_action':
      return 'requires_action';
    default:
      return 'pending';
  }
}

/** orders.placed → one PaymentIntent (key pi:<order_id>) → payments row + outcome event. */
export function paymentsHandler(deps: { pool: pg.Pool; gateway: StripeGateway }): TopicHandler<OrderPlaced> {
  const consumer = 'worker.payments';
  return {
    handler: 'payments',
    topic: Topics.ordersPlaced,
    consumer,
    schema: orderPlacedSchema,
    aggregateOf: (order) => order.order_id,
    async handle(order, message, known) {
      const inbox = { consumer, messageId: message.messageId };
      if (known) {
        // Already charged, declined, waiting for the customer, or cancelled before the charge:
        // a second delivery (or a second order event) must not reach Stripe again.
        const recorded = await inInboxTransaction(deps.pool, inbox, async () => undefined);
        if (recorded.duplicate) return 'duplicate';
        return known.status === 'cancelled' ? 'cancelled_before_payment' : 'already_recorded';
      }
      const createdFrom = Math.floor(message.eventTime.getTime() / 1000) - LOOKUP_MARGIN_SECONDS;
      const charge = await chargeOrderOnce(deps.gateway, order, { createdFrom });
      const next = statusOf(charge);
      const result = await inInboxTransaction(deps.pool, inbox, async (client) => {
        const current = await lockPayment(client, order.order_id);
        if (current && !canTransition(current.status, next)) return 'already_recorded';
        await writePayment(
          client,
          {
            aggregateId: order.order_id,
            kind: 'payment_intent',
            status: next,
            amount: order.amount,
            currency: order.currency,
            idempotencyKey: charge.idempotencyKey,
            ...(charge.paymentIntentId ? { paymentIntentId: charge.paymentIntentId } : {}),
            failureCode: charge.status === 'declined' ? (charge.declineCode ?? charge.code ?? null) : null,
            failureMessage: charge.status === 'declined' ? charge.message : null,
            metadata: { order_id: order.order_id, ...(order.customer ? { customer: order.customer } : {}) },
          },
          current !== undefined,
        );
        const events: OutboxMessage[] = [];
        if (charge.status === 'succeeded') {
          const data: PaymentCompleted = {
            order_id: order.order_id,
            payment_intent_id: charge.paymentIntentId,
            ...(charge.chargeId ? { charge_id: charge.chargeId } : {}),
            amount: order.amount,
            currency: order.currency,
            status: 'succeeded',
          };
          events.push({ topic: Topics.paymentsCompleted, key: order.order_id, type: EventTypes.paymentCompleted, data });
          if (current?.status === 'cancelled') {
            // The cancellation overtook this charge: the money was taken for a released order, and
            // the saga gives it back.
            const cancel: OrderCancelled = { order_id: order.order_id, reason: 'cancelled_before_payment' };
            events.push({ topic: Topics.ordersCancelled, key: order.order_id, type: EventTypes.orderCancelled, data: cancel });
          }
        } else if (charge.status === 'declined') {
          const data: PaymentFailed = {
            order_id: order.order_id,
            ...(charge.paymentIntentId ? { payment_intent_id: charge.paymentIntentId } : {}),
            amount: order.amount,
            currency: order.currency,
            ...(charge.code ? { code: charge.code } : {}),
            ...(charge.declineCode ? { decline_code: charge.declineCode } : {}),
            reason: charge.message,
          };
          events.push({ topic: Topics.paymentsFailed, key: order.order_id, type: EventTypes.paymentFailed, data });
        }
        await enqueueMany(client, events);
        return charge.status === 'declined' ? 'declined' : charge.status;
      });
      return result.duplicate ? 'duplicate' : result.value;
    },
  };
}
