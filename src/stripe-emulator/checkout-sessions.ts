import type Stripe from 'stripe';
import type { EmulatorContext } from './context.js';
import { invalidRequest, resourceMissing } from './errors.js';
import { ID_PREFIX, newId } from './ids.js';
import {
  emptyAddress,
  NO_ORIGIN,
  type CaptureMethod,
  type CheckoutLocale,
  type CheckoutSessionObject,
  type LineItemObject,
  type Metadata,
  type PriceObject,
  type RequestOrigin,
} from './objects.js';
import { mergeMetadata } from './params.js';
import { createPaymentIntent, recordDecline, requireTestCard, startProcessing, succeedPayment } from './payment-intents.js';

/**
 * Checkout Sessions in `payment` mode: created by the API, then completed (or abandoned) by the
 * customer on the hosted page — here through the emulator's admin endpoint or its checkout page.
 */

export interface NewLineItem {
  name: string;
  currency: string;
  unitAmount: number;
  quantity: number;
}

export interface NewCheckoutSession {
  lineItems: NewLineItem[];
  metadata: Metadata;
  successUrl?: string;
  cancelUrl?: string;
  clientReferenceId?: string;
  customer?: string;
  customerEmail?: string;
  paymentMethodTypes: string[];
  expiresAt?: number;
  locale?: CheckoutLocale;
  paymentIntentData: { metadata: Metadata; description?: string; captureMethod: CaptureMethod };
}

/** The languages of Stripe's hosted page in the pinned API version (a test keeps this list equal to the SDK's). */
export const CHECKOUT_LOCALES = [
  'auto',
  'bg',
  'cs',
  'da',
  'de',
  'el',
  'en',
  'en-GB',
  'es',
  'es-419',
  'et',
  'fi',
  'fil',
  'fr',
  'fr-CA',
  'hi-IN',
  'hr',
  'hu',
  'id',
  'it',
  'ja',
  'ko',
  'lt',
  'lv',
  'ms',
  'mt',
  'nb',
  'nl',
  'pl',
  'pt',
  'pt-BR',
  'ro',
  'ru',
  'sk',
  'sl',
  'sv',
  'th',
  'tr',
  'vi',
  'zh',
  'zh-HK',
  'zh-TW',
] as const satisfies readonly CheckoutLocale[];

/** How the customer's payment went, in the admin endpoint's words. */
export const CHECKOUT_OUTCOMES = ['paid', 'async_succeeded', 'async_failed'] as const;
export type CheckoutOutcome = (typeof CHECKOUT_OUTCOMES)[number];

/** Checkout pays with a card that succeeds; async outcomes model a delayed method (e.g. a bank debit). */
const CHECKOUT_PAYMENT_METHOD = 'pm_card_visa';
/** Who pays on the hosted page, when the session was not made for a known email. */
const CHECKOUT_CUSTOMER_EMAIL = 'customer@example.com';
const SESSION_LIFETIME_SECONDS = 24 * 3600;

export function getCheckoutSession(ctx: EmulatorContext, id: string): CheckoutSessionObject {
  const session = ctx.store.checkoutSessions.get(id);
  if (!session) throw resourceMissing('checkout.session', id);
  return session;
}

/** The Price that `price_data` makes: inline, so it is inactive and belongs to a product made for it. */
function inlinePrice(ctx: EmulatorContext, item: NewLineItem): PriceObject {
  return {
    id: newId('price_'),
    object: 'price',
    active: false,
    billing_scheme: 'per_unit',
    created: ctx.clock.nowSeconds(),
    currency: item.currency,
    custom_unit_amount: null,
    livemode: false,
    lookup_key: null,
    metadata: {},
    nickname: null,
    product: newId('prod_', 14),
    recurring: null,
    tax_behavior: 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: 'one_time',
    unit_amount: item.unitAmount,
    // A decimal string on the wire; the SDK turns it into its Decimal type when it reads it.
    unit_amount_decimal: String(item.unitAmount) as unknown as Stripe.Decimal,
  };
}

export function createCheckoutSession(ctx: EmulatorContext, input: NewCheckoutSession, origin: RequestOrigin): CheckoutSessionObject {
  const currencies = new Set(input.lineItems.map((item) => item.currency));
  if (currencies.size > 1) {
    throw invalidRequest('All line items must use the same currency.', { param: 'line_items' });
  }
  const id = newId(ID_PREFIX.checkoutSession, 58);
  const currency = input.lineItems[0]?.currency as string;
  const lineItems: LineItemObject[] = input.lineItems.map((item) => ({
    id: newId(ID_PREFIX.lineItem),
    object: 'item',
    adjustable_quantity: null,
    amount_discount: 0,
    amount_subtotal: item.unitAmount * item.quantity,
    amount_tax: 0,
    amount_total: item.unitAmount * item.quantity,
    currency: item.currency,
    description: item.name,
    metadata: {},
    price: inlinePrice(ctx, item),
    quantity: item.quantity,
  }));
  const total = lineItems.reduce((sum, item) => sum + item.amount_total, 0);
  const created = ctx.clock.nowSeconds();
  const session: CheckoutSessionObject = {
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: null,
    allowed_payment_method_types: null,
    amount_subtotal: total,
    amount_total: total,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: input.cancelUrl ?? null,
    client_reference_id: input.clientReferenceId ?? null,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created,
    currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: input.customer ?? null,
    customer_account: null,
    customer_creation: input.customer ? null : 'if_required',
    customer_details: input.customerEmail ? customerDetails(input.customerEmail, null) : null,
    customer_email: input.customerEmail ?? null,
    discounts: [],
    expires_at: input.expiresAt ?? created + SESSION_LIFETIME_SECONDS,
    integration_identifier: null,
    invoice: null,
    invoice_creation: null,
    livemode: false,
    locale: input.locale ?? null,
    managed_payments: null,
    metadata: input.metadata,
    mode: 'payment',
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: input.paymentMethodTypes.includes('card') ? { card: { request_three_d_secure: 'automatic' } } : {},
    payment_method_types: input.paymentMethodTypes,
    payment_status: 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: null,
    subscription: null,
    success_url: input.successUrl ?? null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted_page',
    url: `${ctx.baseUrl()}/checkout/${id}`,
    wallet_options: null,
  };
  ctx.store.checkoutSessions.set(id, session);
  ctx.store.checkoutExtras.set(id, {
    lineItems,
    paymentIntentData: {
      metadata: input.paymentIntentData.metadata,
      description: input.paymentIntentData.description ?? null,
      captureMethod: input.paymentIntentData.captureMethod,
    },
    idempotencyKey: origin.idempotencyKey,
  });
  return session;
}

function customerDetails(email: string, country: string | null): Stripe.Checkout.Session.CustomerDetails {
  return {
    address: { ...emptyAddress(), country },
    business_name: null,
    email,
    individual_name: null,
    name: null,
    phone: null,
    tax_exempt: 'none',
    tax_ids: [],
  };
}

function requireOpen(session: CheckoutSessionObject, action: string): void {
  if (session.status !== 'open') {
    // Stripe has no error code for this one.
    throw invalidRequest(
      `Only Checkout Sessions with a status in ["open"] can be ${action}. This session has a status of ${session.status}.`,
    );
  }
}

export interface CheckoutSessionUpdate {
  /** keys with an empty value are removed; null removes them all */
  metadata?: Metadata | null;
  shippingDetails?: Stripe.Checkout.Session.CollectedInformation.ShippingDetails;
}

/**
 * `POST /v1/checkout/sessions/{id}`: metadata at any time; the shipping details the customer
 * would give only while the session is open. Stripe sends no event for it.
 */
export function updateCheckoutSession(session: CheckoutSessionObject, update: CheckoutSessionUpdate): CheckoutSessionObject {
  if (update.shippingDetails) {
    requireOpen(session, 'updated with collected_information');
    session.collected_information = {
      business_name: session.collected_information?.business_name ?? null,
      individual_name: session.collected_information?.individual_name ?? null,
      shipping_details: update.shippingDetails,
    };
  }
  if (update.metadata !== undefined) session.metadata = mergeMetadata(session.metadata ?? {}, update.metadata);
  return session;
}

export function expireCheckoutSession(ctx: EmulatorContext, session: CheckoutSessionObject, origin: RequestOrigin): CheckoutSessionObject {
  requireOpen(session, 'expired');
  session.status = 'expired';
  session.url = null;
  ctx.events.emit('checkout.session.expired', session, origin);
  return session;
}

/**
 * The customer pays on the hosted page. Stripe then creates the PaymentIntent and sends
 * `checkout.session.completed`; for delayed methods the money settles later and a second event
 * (`async_payment_succeeded` / `async_payment_failed`) follows — at once, or after `settleAfterMs`.
 */
export function completeCheckoutSession(
  ctx: EmulatorContext,
  session: CheckoutSessionObject,
  outcome: CheckoutOutcome,
  schedule: (ms: number, settle: () => void) => void,
  settleAfterMs = 0,
): CheckoutSessionObject {
  requireOpen(session, 'completed');
  const extras = ctx.store.checkoutExtras.get(session.id);
  if (!extras) throw resourceMissing('checkout.session', session.id);
  // Events caused by the customer, not by an API call, carry no request (as in Stripe).
  const origin = NO_ORIGIN;
  const intent = createPaymentIntent(
    ctx,
    {
      amount: session.amount_total ?? 0,
      currency: session.currency as string,
      paymentMethod: CHECKOUT_PAYMENT_METHOD,
      metadata: { ...extras.paymentIntentData.metadata },
      customer: typeof session.customer === 'string' ? session.customer : undefined,
      captureMethod: extras.paymentIntentData.captureMethod,
      description: extras.paymentIntentData.description ?? undefined,
      paymentMethodTypes: session.payment_method_types,
    },
    origin,
  );
  ctx.store.sessionOfPaymentIntent.set(intent.id, session.id);
  session.payment_intent = intent.id;
  session.status = 'complete';
  session.url = null;
  session.customer_details = customerDetails(session.customer_email ?? CHECKOUT_CUSTOMER_EMAIL, 'US');
  const card = requireTestCard(CHECKOUT_PAYMENT_METHOD);

  if (outcome === 'paid') {
    succeedPayment(ctx, intent, card, origin, extras.idempotencyKey);
    session.payment_status = intent.status === 'succeeded' ? 'paid' : 'unpaid';
    ctx.events.emit('checkout.session.completed', session, origin);
    return session;
  }

  startProcessing(ctx, intent, origin);
  ctx.events.emit('checkout.session.completed', session, origin);
  const settle = () => {
    // Canceled (or otherwise moved on) while the money was in flight: nothing settles.
    if (intent.status !== 'processing') return;
    if (outcome === 'async_succeeded') {
      succeedPayment(ctx, intent, card, origin, extras.idempotencyKey);
      session.payment_status = 'paid';
      ctx.events.emit('checkout.session.async_payment_succeeded', session, origin);
    } else {
      recordDecline(ctx, intent, card, { code: 'card_declined', declineCode: 'generic_decline', message: 'The payment failed.' }, origin);
      ctx.events.emit('checkout.session.async_payment_failed', session, origin);
    }
  };
  if (settleAfterMs > 0) schedule(settleAfterMs, settle);
  else settle();
  return session;
}
