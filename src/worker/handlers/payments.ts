import type { OutboxMessage } from '../../outbox/enqueue.js';
import {
  EventTypes,
  orderPlacedSchema,
  type OrderCancelled,
  type OrderPlaced,
  type PaymentCompleted,
  type PaymentFailed,
} from '../../payments/events.js';
import type { Decision, GroupCommitter } from '../../payments/group-commit.js';
import { canTransition, type PaymentStatus } from '../../payments/status.js';
import type { PaymentRow } from '../../payments/store.js';
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

/** Records a charge's outcome on the order's row and announces it, if the row may move there. */
export function decideCharge(order: OrderPlaced, charge: ChargeResult, current: PaymentRow | undefined): Decision {
  const next = statusOf(charge);
  if (current && !canTransition(current.status, next)) return { result: 'already_recorded' };
  const write = {
    aggregateId: order.order_id,
    kind: 'payment_intent' as const,
    status: next,
    amount: order.amount,
    currency: order.currency,
    idempotencyKey: charge.idempotencyKey,
    ...(charge.paymentIntentId ? { paymentIntentId: charge.paymentIntentId } : {}),
    failureCode: charge.status === 'declined' ? (charge.declineCode ?? charge.code ?? null) : null,
    failureMessage: charge.status === 'declined' ? charge.message : null,
    metadata: { order_id: order.order_id, ...(order.customer ? { customer: order.customer } : {}) },
  };
  const key = order.order_id;
  if (charge.status === 'succeeded') {
    const completed: PaymentCompleted = {
      order_id: order.order_id,
      payment_intent_id: charge.paymentIntentId,
      ...(charge.chargeId ? { charge_id: charge.chargeId } : {}),
      amount: order.amount,
      currency: order.currency,
      status: 'succeeded',
    };
    const events: OutboxMessage[] = [{ topic: Topics.paymentsCompleted, key, type: EventTypes.paymentCompleted, data: completed }];
    if (current?.status === 'cancelled') {
      // The cancellation overtook this charge: the money was taken for a released order, and the
      // saga gives it back.
      const cancel: OrderCancelled = { order_id: order.order_id, reason: 'cancelled_before_payment' };
      events.push({ topic: Topics.ordersCancelled, key, type: EventTypes.orderCancelled, data: cancel });
    }
    return { result: 'succeeded', write, events };
  }
  if (charge.status === 'declined') {
    const failed: PaymentFailed = {
      order_id: order.order_id,
      ...(charge.paymentIntentId ? { payment_intent_id: charge.paymentIntentId } : {}),
      amount: order.amount,
      currency: order.currency,
      ...(charge.code ? { code: charge.code } : {}),
      ...(charge.declineCode ? { decline_code: charge.declineCode } : {}),
      reason: charge.message,
    };
    return { result: 'declined', write, events: [{ topic: Topics.paymentsFailed, key, type: EventTypes.paymentFailed, data: failed }] };
  }
  // Waiting for the customer (3-D Secure) or for the bank: the webhook brings the outcome.
  return { result: charge.status, write };
}

/** orders.placed → one PaymentIntent (key pi:<order_id>) → payments row + outcome event. */
export function paymentsHandler(deps: { committer: GroupCommitter; gateway: StripeGateway }): TopicHandler<OrderPlaced> {
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
        const result = known.status === 'cancelled' ? 'cancelled_before_payment' : 'already_recorded';
        const recorded = await deps.committer.submit(inbox, order.order_id, () => ({ result }));
        return recorded.duplicate ? 'duplicate' : recorded.value;
      }
      const createdFrom = Math.floor(message.eventTime.getTime() / 1000) - LOOKUP_MARGIN_SECONDS;
      const charge = await chargeOrderOnce(deps.gateway, order, { createdFrom });
      const committed = await deps.committer.submit(inbox, order.order_id, (current) => decideCharge(order, charge, current));
      return committed.duplicate ? 'duplicate' : committed.value;
    },
  };
}
