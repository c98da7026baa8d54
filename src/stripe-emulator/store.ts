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
  readonly paymentIntents: Map<string, PaymentIntentObject> = new Map();
  readonly charges: Map<string, ChargeObject> = new Map();
  readonly refunds: Map<string, RefundObject> = new Map();
  readonly checkoutSessions: Map<string, CheckoutSessionObject> = new Map();
  readonly checkoutExtras: Map<string, CheckoutSessionExtras> = new Map();
  readonly events: Map<string, EventObject> = new Map();
  readonly webhookEndpoints: Map<string, WebhookEndpointObject> = new Map();
  /** signing secrets of registered endpoints; Stripe shows a secret only when the endpoint is created */
  readonly webhookSecrets: Map<string, string> = new Map();
  /** charge id → Idempotency-Key of the request that made it (for the double-charge report) */
  readonly chargeIdempotencyKeys = new Map<string, string | null>();
  /** the Idempotency-Key of the request that confirmed each PaymentIntent, for charges made later (3-D Secure) */
  readonly confirmIdempotencyKeys: Map<string, string> = new Map();
  /** PaymentIntent id → the Checkout Session that created it */
  readonly sessionOfPaymentIntent: Map<string, string> = new Map();

  clear(): void {
    for (const value of Object.values(this)) if (value instanceof Map) value.clear();
  }
}

/** Newest first, as Stripe lists return them. */
export function newestFirst<T>(map: Map<string, T>): T[] {
  return [...map.values()].reverse();
}
