import type {
  ChargeObject,
  CheckoutSessionExtras,
  CheckoutSessionObject,
  EventObject,
  PaymentIntentObject,
  RefundObject,
  WebhookEndpointObject,
} from './objects.js';

/**
 * Everything the emulator knows, in memory. Maps keep insertion order, which is also `created`
 * order (the clock only moves forward), so lists read them backwards to get Stripe's newest-first.
 */
export class EmulatorStore {
  readonly paymentIntents = new Map<string, PaymentIntentObject>();
  readonly charges = new Map<string, ChargeObject>();
  readonly refunds = new Map<string, RefundObject>();
  readonly checkoutSessions = new Map<string, CheckoutSessionObject>();
  readonly checkoutExtras = new Map<string, CheckoutSessionExtras>();
  readonly events = new Map<string, EventObject>();
  readonly webhookEndpoints = new Map<string, WebhookEndpointObject>();
  /** signing secrets of registered endpoints; Stripe shows a secret only when the endpoint is created */
  readonly webhookSecrets = new Map<string, string>();
  /** charge id → Idempotency-Key of the request that made it (for the double-charge report) */
  readonly chargeIdempotencyKeys = new Map<string, string | null>();
  /** the Idempotency-Key of the request that confirmed each PaymentIntent, for charges made later (3-D Secure) */
  readonly confirmIdempotencyKeys = new Map<string, string>();
  /** PaymentIntent id → the Checkout Session that created it */
  readonly sessionOfPaymentIntent = new Map<string, string>();

  clear(): void {
    for (const value of Object.values(this)) if (value instanceof Map) value.clear();
  }
}

/** Newest first, as Stripe lists return them. */
export function newestFirst<T>(map: Map<string, T>): T[] {
  return [...map.values()].reverse();
}
