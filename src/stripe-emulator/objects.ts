import type Stripe from 'stripe';

/**
 * The Stripe objects the emulator keeps are the SDK's own types, so every property of the API
 * version the SDK pins must be set (null when unset), as Stripe returns them; the contract test
 * checks the wire format against the same types. References to other objects are ids, as in
 * Stripe, and become objects only through `expand[]`.
 */

export type Metadata = Stripe.Metadata;
export type PaymentIntentObject = Stripe.PaymentIntent;
export type ChargeObject = Stripe.Charge;
export type RefundObject = Stripe.Refund;
export type CheckoutSessionObject = Stripe.Checkout.Session;
export type LineItemObject = Stripe.LineItem;
export type PriceObject = Stripe.Price;
export type PaymentMethodObject = Stripe.PaymentMethod;
export type CardDetails = Stripe.PaymentMethod.Card;
export type WebhookEndpointObject = Stripe.WebhookEndpoint;
export type LastPaymentError = Stripe.PaymentIntent.LastPaymentError;
export type ListObject<T> = Stripe.ApiList<T>;
export type SearchResultObject<T> = Stripe.ApiSearchResult<T>;

export type PaymentIntentStatus = Stripe.PaymentIntent.Status;
export type CaptureMethod = 'automatic' | 'automatic_async' | 'manual';
export type CheckoutLocale = Stripe.Checkout.Session.Locale;

/** An Event as sent: `data.object` is a snapshot of the object when the event happened. */
export interface EventObject {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: object; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

/** What the emulator remembers about a session besides the Stripe object itself. */
export interface CheckoutSessionExtras {
  lineItems: LineItemObject[];
  paymentIntentData: { metadata: Metadata; description: string | null; captureMethod: CaptureMethod };
  /** the Idempotency-Key of the request that created the session: charges made by completing it count under it */
  idempotencyKey: string | null;
}

/** Where an API request came from; events carry it as `request`. Null for emulator-driven changes. */
export interface RequestOrigin {
  requestId: string | null;
  idempotencyKey: string | null;
}

export const NO_ORIGIN: RequestOrigin = { requestId: null, idempotencyKey: null };

/**
 * The API version the emulator speaks: the one the installed stripe SDK pins (a test keeps them
 * equal). Objects always have this version's shape, whatever Stripe-Version a client sends.
 */
export const DEFAULT_API_VERSION = '2026-10-28.endive';

/** An empty postal address, as Stripe returns one nobody filled in. */
export function emptyAddress(): Stripe.Address {
  return { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
}

/** Billing details nobody filled in. */
export function emptyBillingDetails(): Stripe.PaymentMethod.BillingDetails {
  return { address: emptyAddress(), email: null, name: null, phone: null, tax_id: null };
}

/** The id of an expandable reference as the emulator stores it (never expanded in the store). */
export function idOf(reference: string | { id: string } | null | undefined): string | null {
  if (reference === null || reference === undefined) return null;
  return typeof reference === 'string' ? reference : reference.id;
}
