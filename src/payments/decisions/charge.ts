import { Topics } from '../../contracts.js';
import { defined } from '../../optional.js';
import type { OutboxMessage } from '../../outbox/enqueue.js';
import { pipelineMessage, type OrderCancelled, type OrderPlaced, type PaymentCompleted, type PaymentFailed } from '../events.js';
import type { PaymentRow } from '../row.js';
import { canTransition, type PaymentStatus } from '../status.js';
import type { ChargeResult } from '../stripe-calls.js';
import type { Decision } from './decision.js';

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

/**
 * An order whose row already exists is not charged again — already charged, declined, waiting for
 * the customer, or cancelled before the charge: a second delivery (or a second order event) must
 * not reach Stripe.
 */
export function decideKnownOrder(known: PaymentRow): Decision {
  return { result: known.status === 'cancelled' ? 'cancelled_before_payment' : 'already_recorded' };
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
      ...defined('customer', order.customer),
      payment_intent_id: charge.paymentIntentId,
      ...(charge.chargeId ? { charge_id: charge.chargeId } : {}),
      amount: order.amount,
      currency: order.currency,
      status: 'succeeded',
    };
    const events: OutboxMessage[] = [pipelineMessage(Topics.paymentsCompleted, key, completed)];
    if (current?.status === 'cancelled') {
      // The cancellation overtook this charge: the money was taken for a released order, and the
      // saga gives it back.
      const cancel: OrderCancelled = { order_id: order.order_id, reason: 'cancelled_before_payment' };
      events.push(pipelineMessage(Topics.ordersCancelled, key, cancel));
    }
    return { result: 'succeeded', write, events };
  }
  if (charge.status === 'declined') {
    const failed: PaymentFailed = {
      order_id: order.order_id,
      ...defined('customer', order.customer),
      ...(charge.paymentIntentId ? { payment_intent_id: charge.paymentIntentId } : {}),
      amount: order.amount,
      currency: order.currency,
      ...(charge.code ? { code: charge.code } : {}),
      ...(charge.declineCode ? { decline_code: charge.declineCode } : {}),
      reason: charge.message,
    };
    return { result: 'declined', write, events: [pipelineMessage(Topics.paymentsFailed, key, failed)] };
  }
  // Waiting for the customer (3-D Secure) or for the bank: the webhook brings the outcome.
  return { result: charge.status, write };
}
