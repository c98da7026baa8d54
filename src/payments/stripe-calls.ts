import {
  chargeOutcomeOf,
  IdempotencyKey,
  isReplayedServerError,
  StripeGatewayError,
  type ChargeOutcome,
  type CheckoutSessionCreated,
  type StripeGateway,
} from '../stripe/index.js';
import type { CheckoutRequested, OrderPlaced } from './events.js';

/**
 * Stripe keeps a 5xx under its idempotency key and replays it for 24 hours. After such a replay
 * these calls look for what the first request may have done and, only when it provably did
 * nothing, move to the next key of the same business id: `pi:<order>`, `pi:<order>:2`, ...
 */
export const MAX_KEY_GENERATIONS = 5;

export function keyGeneration(base: string, generation: number): string {
  return generation === 0 ? base : `${base}:${generation + 1}`;
}

export type ChargeResult = ChargeOutcome & { idempotencyKey: string };

/**
 * Charges an order at most once, however often it is called. `createdFrom` (unix seconds) must
 * be no later than the first charge attempt for the order: the lookup after a replayed 5xx lists
 * PaymentIntents created since then.
 */
export async function chargeOrderOnce(
  gateway: StripeGateway,
  order: OrderPlaced,
  options: { createdFrom: number; metadata?: Record<string, string> },
): Promise<ChargeResult> {
  const base = IdempotencyKey.paymentIntent(order.order_id);
  for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation++) {
    const idempotencyKey = keyGeneration(base, generation);
    let outcome: ChargeOutcome;
    try {
      outcome = await gateway.chargeOrder({
        orderId: order.order_id,
        amount: order.amount,
        currency: order.currency,
        paymentMethod: order.payment_method,
        ...(order.customer ? { customer: order.customer } : {}),
        ...(options.metadata ? { metadata: options.metadata } : {}),
        idempotencyKey,
      });
    } catch (error) {
      if (!isReplayedServerError(error)) throw error;
      // The request under this key finished with a 5xx, perhaps after charging. Only a PaymentIntent
      // for the order proves it did; none at all proves the next key cannot charge twice.
      const found = await gateway.findPaymentIntentForOrder(order.order_id, {
        createdFrom: options.createdFrom,
        ...(order.customer ? { customer: order.customer } : {}),
      });
      if (!found) continue;
      outcome = chargeOutcomeOf(found);
    }
    if (outcome.status === 'requires_confirmation') {
      outcome = await gateway.confirmPaymentIntent(outcome.paymentIntentId, `${idempotencyKey}:confirm`);
    }
    return { ...outcome, idempotencyKey };
  }
  throw new StripeGatewayError(
    'retryable',
    `all ${MAX_KEY_GENERATIONS} idempotency keys of order ${order.order_id} hold a stored server error`,
  );
}

export interface CheckoutUrls {
  successUrl: string;
  cancelUrl: string;
}

/**
 * Creates the trip's Checkout Session. A session nobody has the URL of can never be paid, so after
 * a replayed 5xx the next key is safe without a lookup.
 */
export async function createCheckoutSessionOnce(
  gateway: StripeGateway,
  request: CheckoutRequested,
  urls: CheckoutUrls,
): Promise<CheckoutSessionCreated & { idempotencyKey: string }> {
  const base = IdempotencyKey.checkoutSession(request.trip_id);
  for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation++) {
    const idempotencyKey = keyGeneration(base, generation);
    try {
      const session = await gateway.createCheckoutSession({
        tripId: request.trip_id,
        amount: request.amount,
        currency: request.currency,
        productName: `Trip ${request.trip_id}`,
        successUrl: urls.successUrl,
        cancelUrl: urls.cancelUrl,
        metadata: { user_id: request.user_id, driver_id: request.driver_id },
        idempotencyKey,
      });
      return { ...session, idempotencyKey };
    } catch (error) {
      if (!isReplayedServerError(error)) throw error;
    }
  }
  throw new StripeGatewayError(
    'retryable',
    `all ${MAX_KEY_GENERATIONS} idempotency keys of trip ${request.trip_id} hold a stored server error`,
  );
}

export interface RefundResult {
  refundId: string;
  amount: number;
}

/**
 * Refunds a payment in full, once. Stripe itself refuses a second full refund of a charge
 * (`charge_already_refunded`); that answer, or a replayed 5xx, is settled by finding the refund.
 */
export async function refundOnce(gateway: StripeGateway, aggregateId: string, paymentIntentId: string): Promise<RefundResult> {
  const base = IdempotencyKey.refund(aggregateId);
  for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation++) {
    try {
      const refund = await gateway.refund({ orderId: aggregateId, paymentIntentId, idempotencyKey: keyGeneration(base, generation) });
      return { refundId: refund.id, amount: refund.amount };
    } catch (error) {
      const alreadyRefunded = error instanceof StripeGatewayError && error.details.code === 'charge_already_refunded';
      if (!alreadyRefunded && !isReplayedServerError(error)) throw error;
      const existing = await gateway.findRefund(paymentIntentId);
      if (existing) return { refundId: existing.id, amount: existing.amount };
      if (alreadyRefunded) throw error;
    }
  }
  throw new StripeGatewayError(
    'retryable',
    `all ${MAX_KEY_GENERATIONS} idempotency keys of the refund for ${aggregateId} hold a stored server error`,
  );
}
