import {
  chargeOutcomeOf,
  IdempotencyKey,
  isReplayedServerError,
  StripeGatewayError,
  type ChargeOutcome,
  type CheckoutSession,
  type StripeGateway,
} from '../stripe/index.js';
import type { CheckoutRequested, OrderPlaced } from './events.js';
import { defined } from '../optional.js';

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
 * Runs `attempt` under the business id's keys, one generation after the other, until it answers:
 * `undefined` means the key holds a stored server error and the request provably did nothing, so
 * the next key is safe. With every key used up the failure is retryable.
 */
async function underSuccessiveKeys<T>(base: string, what: string, attempt: (idempotencyKey: string) => Promise<T | undefined>): Promise<T> {
  for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation++) {
    const result = await attempt(keyGeneration(base, generation));
    if (result !== undefined) return result;
  }
  throw new StripeGatewayError('retryable', `all ${MAX_KEY_GENERATIONS} idempotency keys of ${what} hold a stored server error`);
}

/**
 * Charges an order at most once, however often it is called. `createdFrom` (unix seconds) must
 * be no later than the first charge attempt for the order: the lookup after a replayed 5xx lists
 * PaymentIntents created since then.
 */
export function chargeOrderOnce(
  gateway: StripeGateway,
  order: OrderPlaced,
  options: { createdFrom: number; metadata?: Record<string, string> },
): Promise<ChargeResult> {
  return underSuccessiveKeys(IdempotencyKey.paymentIntent(order.order_id), `order ${order.order_id}`, async (idempotencyKey) => {
    let outcome: ChargeOutcome;
    try {
      outcome = await gateway.chargeOrder({
        orderId: order.order_id,
        amount: order.amount,
        currency: order.currency,
        paymentMethod: order.payment_method,
        ...(order.customer ? { customer: order.customer } : {}),
        // The customer travels in the metadata too, so a webhook that records the payment before
        // this worker does still knows whose money it was (the transaction history needs it).
        ...(order.customer || options.metadata ? { metadata: { ...defined('customer', order.customer), ...options.metadata } } : {}),
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
      if (!found) return undefined;
      outcome = chargeOutcomeOf(found);
    }
    if (outcome.status === 'requires_confirmation') {
      outcome = await gateway.confirmPaymentIntent(outcome.paymentIntentId, `${idempotencyKey}:confirm`);
    }
    return { ...outcome, idempotencyKey };
  });
}

export interface CheckoutUrls {
  successUrl: string;
  cancelUrl: string;
}

/**
 * Creates the trip's Checkout Session. A session nobody has the URL of can never be paid, so after
 * a replayed 5xx the next key is safe without a lookup.
 */
export function createCheckoutSessionOnce(
  gateway: StripeGateway,
  request: CheckoutRequested,
  urls: CheckoutUrls,
): Promise<CheckoutSession & { idempotencyKey: string }> {
  return underSuccessiveKeys(IdempotencyKey.checkoutSession(request.trip_id), `trip ${request.trip_id}`, async (idempotencyKey) => {
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
      return undefined;
    }
  });
}

export interface RefundResult {
  refundId: string;
  amount: number;
}

/**
 * Refunds a payment in full, once. Stripe itself refuses a second full refund of a charge
 * (`charge_already_refunded`); that answer, or a replayed 5xx, is settled by finding the refund.
 */
export function refundOnce(gateway: StripeGateway, aggregateId: string, paymentIntentId: string): Promise<RefundResult> {
  return underSuccessiveKeys(IdempotencyKey.refund(aggregateId), `the refund for ${aggregateId}`, async (idempotencyKey) => {
    try {
      const refund = await gateway.refund({ orderId: aggregateId, paymentIntentId, idempotencyKey });
      return { refundId: refund.id, amount: refund.amount };
    } catch (error) {
      const alreadyRefunded = error instanceof StripeGatewayError && error.details.code === 'charge_already_refunded';
      if (!alreadyRefunded && !isReplayedServerError(error)) throw error;
      const existing = await gateway.findRefund(paymentIntentId);
      if (existing) return { refundId: existing.id, amount: existing.amount };
      if (alreadyRefunded) throw error;
      return undefined;
    }
  });
}
