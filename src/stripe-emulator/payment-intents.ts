import { createCharge } from './charges.js';
import type { EmulatorContext } from './context.js';
import { invalidRequest, resourceMissing, StripeApiError, unexpectedState } from './errors.js';
import { ID_PREFIX, newId, randomToken } from './ids.js';
import type {
  CaptureMethod,
  ChargeObject,
  LastPaymentError,
  Metadata,
  PaymentIntentObject,
  PaymentIntentStatus,
  RequestOrigin,
} from './objects.js';
import { paymentMethodObject, testCard, type Decline, type TestCard } from './payment-methods.js';

/**
 * The PaymentIntent state machine: create → confirm → (succeeded | requires_capture → capture |
 * requires_action | requires_payment_method after a decline) and cancel, with the Charges and
 * Events each step makes in Stripe.
 */

export interface NewPaymentIntent {
  amount: number;
  currency: string;
  paymentMethod?: string;
  metadata: Metadata;
  customer?: string;
  captureMethod: CaptureMethod;
  description?: string;
  paymentMethodTypes: string[];
  receiptEmail?: string;
  statementDescriptor?: string;
}

const CONFIRMABLE: readonly PaymentIntentStatus[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE: readonly PaymentIntentStatus[] = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];

/** Looks up a test PaymentMethod; an unknown id is a 400 on the parameter, as in Stripe. */
export function requireTestCard(id: string, param = 'payment_method'): TestCard {
  const card = testCard(id);
  if (!card) throw resourceMissing('PaymentMethod', id, { param, inUrl: false });
  return card;
}

export function getPaymentIntent(ctx: EmulatorContext, id: string): PaymentIntentObject {
  const intent = ctx.store.paymentIntents.get(id);
  if (!intent) throw resourceMissing('payment_intent', id);
  return intent;
}

export function createPaymentIntent(ctx: EmulatorContext, input: NewPaymentIntent, origin: RequestOrigin): PaymentIntentObject {
  const id = newId(ID_PREFIX.paymentIntent);
  const intent: PaymentIntentObject = {
    id,
    object: 'payment_intent',
    amount: input.amount,
    amount_capturable: 0,
    amount_received: 0,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: input.captureMethod,
    client_secret: `${id}_secret_${randomToken(24)}`,
    confirmation_method: 'automatic',
    created: ctx.clock.nowSeconds(),
    currency: input.currency,
    customer: input.customer ?? null,
    description: input.description ?? null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    metadata: input.metadata,
    next_action: null,
    payment_method: input.paymentMethod ?? null,
    payment_method_types: input.paymentMethodTypes,
    receipt_email: input.receiptEmail ?? null,
    statement_descriptor: input.statementDescriptor ?? null,
    status: input.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
  };
  ctx.store.paymentIntents.set(id, intent);
  ctx.events.emit('payment_intent.created', intent, origin);
  return intent;
}

/**
 * Confirms with the PaymentMethod given (or already attached) and plays out the test card's
 * outcome. A decline changes the PaymentIntent *and then* throws the 402, whose body carries the
 * PaymentIntent as Stripe's does.
 */
export function confirmPaymentIntent(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  options: { paymentMethod?: string; offSession?: boolean },
  origin: RequestOrigin,
): PaymentIntentObject {
  if (!CONFIRMABLE.includes(intent.status)) {
    throw unexpectedState(
      `You cannot confirm this PaymentIntent because it has a status of ${intent.status}. ` +
        `Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
    );
  }
  const paymentMethod = options.paymentMethod ?? intent.payment_method;
  if (!paymentMethod) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a payment method and then confirm it again.",
      { code: 'payment_intent_unexpected_state', param: 'payment_method' },
    );
  }
  const card = requireTestCard(paymentMethod);
  if (origin.idempotencyKey) ctx.store.confirmIdempotencyKeys.set(intent.id, origin.idempotencyKey);
  intent.payment_method = paymentMethod;
  intent.last_payment_error = null;
  intent.next_action = null;

  const outcome = card.outcome;
  if (outcome.kind === 'authentication_required') {
    if (options.offSession) {
      // Off-session there is no customer to authenticate: Stripe declines instead.
      return declinePayment(ctx, intent, card, AUTHENTICATION_REQUIRED, origin);
    }
    intent.status = 'requires_action';
    intent.next_action = {
      type: 'use_stripe_sdk',
      use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: `${ctx.baseUrl()}/3ds/${intent.id}`, source: `src_${randomToken(24)}` },
    };
    ctx.events.emit('payment_intent.requires_action', intent, origin);
    return intent;
  }
  if (outcome.kind === 'decline') return declinePayment(ctx, intent, card, outcome.decline, origin);
  return succeedPayment(ctx, intent, card, origin, origin.idempotencyKey);
}

const AUTHENTICATION_REQUIRED: Decline = {
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

/**
 * The card was charged (or authorized, for manual capture). `chargeKey` is the Idempotency-Key
 * the Charge counts under in the double-charge report.
 */
export function succeedPayment(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  card: TestCard,
  origin: RequestOrigin,
  chargeKey: string | null,
): PaymentIntentObject {
  const charge = createCharge(ctx, intent, intent.payment_method as string, card, {}, chargeKey);
  intent.latest_charge = charge.id;
  intent.last_payment_error = null;
  intent.next_action = null;
  ctx.events.emit('charge.succeeded', charge, origin);
  if (intent.capture_method === 'manual') {
    intent.status = 'requires_capture';
    intent.amount_capturable = intent.amount;
    ctx.events.emit('payment_intent.amount_capturable_updated', intent, origin);
  } else {
    intent.status = 'succeeded';
    intent.amount_received = intent.amount;
    ctx.events.emit('payment_intent.succeeded', intent, origin);
  }
  return intent;
}

/** Records a declined attempt (failed Charge, PaymentIntent back to requires_payment_method) and throws the 402. */
export function declinePayment(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  card: TestCard,
  decline: Decline,
  origin: RequestOrigin,
): never {
  const charge = recordDecline(ctx, intent, card, decline, origin);
  const error = intent.last_payment_error as LastPaymentError;
  throw new StripeApiError(402, {
    type: 'card_error',
    code: error.code,
    ...(error.decline_code ? { decline_code: error.decline_code } : {}),
    message: error.message,
    ...(error.param ? { param: error.param } : {}),
    charge: charge.id,
    doc_url: `https://stripe.com/docs/error-codes/${error.code.replace(/_/g, '-')}`,
    payment_intent: structuredClone(intent),
    payment_method: error.payment_method,
  });
}

/** The state change of a decline, without the 402 (asynchronous failures have no request to fail). */
export function recordDecline(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  card: TestCard,
  decline: Decline,
  origin: RequestOrigin,
): ChargeObject {
  const paymentMethod = intent.payment_method as string;
  const charge = createCharge(ctx, intent, paymentMethod, card, { decline }, origin.idempotencyKey);
  intent.latest_charge = charge.id;
  intent.status = 'requires_payment_method';
  intent.next_action = null;
  intent.last_payment_error = {
    type: 'card_error',
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    ...(decline.param ? { param: decline.param } : {}),
    charge: charge.id,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}`,
    payment_method: paymentMethodObject(paymentMethod, ctx.clock.nowSeconds()),
  };
  ctx.events.emit('charge.failed', charge, origin);
  ctx.events.emit('payment_intent.payment_failed', intent, origin);
  return charge;
}

/**
 * Emulator-only: the customer finished (or failed) the 3-D Secure challenge of a PaymentIntent
 * in requires_action, which in Stripe happens in the browser.
 */
export function finishAuthentication(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  succeeded: boolean,
  origin: RequestOrigin,
): PaymentIntentObject {
  if (intent.status !== 'requires_action') {
    throw unexpectedState(`PaymentIntent ${intent.id} has a status of ${intent.status}; only requires_action can be authenticated.`);
  }
  const card = requireTestCard(intent.payment_method as string);
  if (succeeded) return succeedPayment(ctx, intent, card, origin, ctx.store.confirmIdempotencyKeys.get(intent.id) ?? origin.idempotencyKey);
  intent.status = 'requires_payment_method';
  intent.next_action = null;
  intent.last_payment_error = {
    type: 'card_error',
    code: 'payment_intent_authentication_failure',
    message:
      'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
    payment_method: paymentMethodObject(intent.payment_method as string, ctx.clock.nowSeconds()),
  };
  ctx.events.emit('payment_intent.payment_failed', intent, origin);
  return intent;
}

export function capturePaymentIntent(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  options: { amountToCapture?: number; metadata?: Metadata },
  origin: RequestOrigin,
): PaymentIntentObject {
  if (intent.status !== 'requires_capture') {
    throw unexpectedState(
      `This PaymentIntent could not be captured because it has a status of ${intent.status}. ` +
        'Only a PaymentIntent with one of the following statuses may be captured: requires_capture.',
    );
  }
  const amount = options.amountToCapture ?? intent.amount_capturable;
  if (amount > intent.amount_capturable) {
    throw invalidRequest(
      `The amount to capture (${amount}) must be less than or equal to the amount capturable (${intent.amount_capturable}).`,
      {
        param: 'amount_to_capture',
        code: 'amount_too_large',
      },
    );
  }
  const charge = ctx.store.charges.get(intent.latest_charge as string) as ChargeObject;
  charge.captured = true;
  charge.amount_captured = amount;
  // Stripe releases the part of the authorization that was not captured as a refund.
  charge.amount_refunded = charge.amount - amount;
  charge.refunded = charge.amount_refunded >= charge.amount;
  if (options.metadata) intent.metadata = options.metadata;
  intent.status = 'succeeded';
  intent.amount_received = amount;
  intent.amount_capturable = 0;
  ctx.events.emit('charge.captured', charge, origin);
  ctx.events.emit('payment_intent.succeeded', intent, origin);
  return intent;
}

export const CANCELLATION_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const;

export function cancelPaymentIntent(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  reason: string | undefined,
  origin: RequestOrigin,
): PaymentIntentObject {
  if (!CANCELABLE.includes(intent.status)) {
    throw unexpectedState(
      `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. ` +
        `Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
    );
  }
  const held = intent.status === 'requires_capture' ? ctx.store.charges.get(intent.latest_charge as string) : undefined;
  intent.status = 'canceled';
  intent.canceled_at = ctx.clock.nowSeconds();
  intent.cancellation_reason = reason ?? null;
  intent.amount_capturable = 0;
  intent.next_action = null;
  if (held) {
    // Canceling an authorized payment releases the hold, which Stripe reports as a full refund.
    held.amount_refunded = held.amount;
    held.refunded = true;
    ctx.events.emit('charge.refunded', held, origin);
  }
  ctx.events.emit('payment_intent.canceled', intent, origin);
  return intent;
}
