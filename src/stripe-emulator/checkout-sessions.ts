import type { EmulatorContext } from './context.js';
import { invalidRequest, resourceMissing } from './errors.js';
import { ID_PREFIX, newId } from './ids.js';
import {
  NO_ORIGIN,
  type CaptureMethod,
  type CheckoutSessionObject,
  type LineItemObject,
  type Metadata,
  type RequestOrigin,
} from './objects.js';
import { createPaymentIntent, recordDecline, requireTestCard, succeedPayment } from './payment-intents.js';

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
  paymentIntentData: { metadata: Metadata; description?: string; captureMethod: CaptureMethod };
}

/** How the customer's payment went, in the admin endpoint's words. */
export const CHECKOUT_OUTCOMES = ['paid', 'async_succeeded', 'async_failed'] as const;
export type CheckoutOutcome = (typeof CHECKOUT_OUTCOMES)[number];

/** Checkout pays with a card that succeeds; async outcomes model a delayed method (e.g. a bank debit). */
const CHECKOUT_PAYMENT_METHOD = 'pm_card_visa';
const SESSION_LIFETIME_SECONDS = 24 * 3600;

export function getCheckoutSession(ctx: EmulatorContext, id: string): CheckoutSessionObject {
  const session = ctx.store.checkoutSessions.get(id);
  if (!session) throw resourceMissing('checkout.session', id);
  return session;
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
    amount_subtotal: item.unitAmount * item.quantity,
    amount_total: item.unitAmount * item.quantity,
    currency: item.currency,
    description: item.name,
    quantity: item.quantity,
    price: {
      id: newId('price_'),
      object: 'price',
      currency: item.currency,
      unit_amount: item.unitAmount,
      product: newId('prod_', 14),
      type: 'one_time',
    },
  }));
  const total = lineItems.reduce((sum, item) => sum + item.amount_total, 0);
  const created = ctx.clock.nowSeconds();
  const session: CheckoutSessionObject = {
    id,
    object: 'checkout.session',
    amount_subtotal: total,
    amount_total: total,
    cancel_url: input.cancelUrl ?? null,
    client_reference_id: input.clientReferenceId ?? null,
    created,
    currency,
    customer: input.customer ?? null,
    customer_email: input.customerEmail ?? null,
    expires_at: input.expiresAt ?? created + SESSION_LIFETIME_SECONDS,
    livemode: false,
    metadata: input.metadata,
    mode: 'payment',
    payment_intent: null,
    payment_method_types: input.paymentMethodTypes,
    payment_status: 'unpaid',
    status: 'open',
    success_url: input.successUrl ?? null,
    ui_mode: 'hosted',
    url: `${ctx.baseUrl()}/checkout/${id}`,
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

function requireOpen(session: CheckoutSessionObject, action: string): void {
  if (session.status !== 'open') {
    throw invalidRequest(
      `Only Checkout Sessions with a status in ["open"] can be ${action}. This session has a status of ${session.status}.`,
      {
        code: 'checkout_session_unexpected_state',
      },
    );
  }
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
      amount: session.amount_total,
      currency: session.currency,
      paymentMethod: CHECKOUT_PAYMENT_METHOD,
      metadata: { ...extras.paymentIntentData.metadata },
      customer: session.customer ?? undefined,
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
  const card = requireTestCard(CHECKOUT_PAYMENT_METHOD);

  if (outcome === 'paid') {
    succeedPayment(ctx, intent, card, origin, extras.idempotencyKey);
    session.payment_status = intent.status === 'succeeded' ? 'paid' : 'unpaid';
    ctx.events.emit('checkout.session.completed', session, origin);
    return session;
  }

  intent.status = 'processing';
  ctx.events.emit('payment_intent.processing', intent, origin);
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
