import type Stripe from 'stripe';
import { createCharge, type AttemptResult } from './charges.js';
import type { EmulatorContext } from './context.js';
import { invalidRequest, resourceMissing, StripeApiError, unexpectedState, type StripeErrorCode } from './errors.js';
import { ID_PREFIX, newId, randomToken } from './ids.js';
import {
  idOf,
  type CaptureMethod,
  type ChargeObject,
  type LastPaymentError,
  type Metadata,
  type PaymentIntentObject,
  type PaymentIntentStatus,
  type RequestOrigin,
} from './objects.js';
import { mergeMetadata } from './params.js';
import { paymentMethodObject, testCard, type Decline, type TestCard } from './payment-methods.js';
import { applyChanges } from './updates.js';

/**
 * The PaymentIntent state machine: create → confirm → (succeeded | requires_capture → capture |
 * requires_action | requires_payment_method after a decline) and cancel, with the Charges and
 * Events each step makes in Stripe, and the updates Stripe allows in each state.
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
  automaticPaymentMethods?: Stripe.PaymentIntent.AutomaticPaymentMethods;
  receiptEmail?: string;
  statementDescriptor?: string;
  statementDescriptorSuffix?: string;
  setupFutureUsage?: Stripe.PaymentIntent.SetupFutureUsage;
  shipping?: Stripe.PaymentIntent.Shipping;
  transferGroup?: string;
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

/** The card options Stripe shows on every PaymentIntent that can take cards. */
function cardOptions(): Stripe.PaymentIntent.PaymentMethodOptions {
  return { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } };
}

export function createPaymentIntent(ctx: EmulatorContext, input: NewPaymentIntent, origin: RequestOrigin): PaymentIntentObject {
  const id = newId(ID_PREFIX.paymentIntent);
  const intent: PaymentIntentObject = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: input.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: input.automaticPaymentMethods ?? null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: input.captureMethod,
    client_secret: `${id}_secret_${randomToken(24)}`,
    confirmation_method: 'automatic',
    created: ctx.clock.nowSeconds(),
    currency: input.currency,
    customer: input.customer ?? null,
    customer_account: null,
    description: input.description ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: input.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: input.paymentMethod ?? null,
    payment_method_configuration_details: null,
    payment_method_options: input.paymentMethodTypes.includes('card') ? cardOptions() : {},
    payment_method_types: input.paymentMethodTypes,
    payment_record: null,
    processing: null,
    receipt_email: input.receiptEmail ?? null,
    review: null,
    setup_future_usage: input.setupFutureUsage ?? null,
    shipping: input.shipping ?? null,
    source: null,
    statement_descriptor: input.statementDescriptor ?? null,
    statement_descriptor_suffix: input.statementDescriptorSuffix ?? null,
    status: input.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    transfer_group: input.transferGroup ?? null,
  };
  ctx.store.paymentIntents.set(id, intent);
  ctx.events.emit('payment_intent.created', intent, origin);
  return intent;
}

/** A PaymentIntent as it is being paid for the customer (a delayed method on the hosted page). */
export function startProcessing(ctx: EmulatorContext, intent: PaymentIntentObject, origin: RequestOrigin): void {
  intent.status = 'processing';
  intent.processing = { type: 'card', card: {} };
  ctx.events.emit('payment_intent.processing', intent, origin);
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
  const paymentMethod = options.paymentMethod ?? idOf(intent.payment_method);
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
  if (outcome.kind === 'blocked') return declinePayment(ctx, intent, card, outcome.decline, origin, { blocked: true });
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
  attempt: AttemptResult = {},
): PaymentIntentObject {
  const charge = createCharge(ctx, intent, idOf(intent.payment_method) as string, card, attempt, chargeKey);
  intent.latest_charge = charge.id;
  intent.last_payment_error = null;
  intent.next_action = null;
  intent.processing = null;
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
  attempt: Omit<AttemptResult, 'decline'> = {},
): never {
  const charge = recordDecline(ctx, intent, card, decline, origin, attempt);
  const error = intent.last_payment_error as LastPaymentError;
  throw new StripeApiError(402, {
    type: 'card_error',
    code: error.code as StripeErrorCode,
    ...(error.decline_code ? { decline_code: error.decline_code } : {}),
    message: error.message as string,
    ...(error.param ? { param: error.param } : {}),
    charge: charge.id,
    doc_url: error.doc_url as string,
    payment_intent: structuredClone(intent),
    payment_method: error.payment_method,
  });
}

function docUrl(code: StripeErrorCode): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

/** The state change of a decline, without the 402 (asynchronous failures have no request to fail). */
export function recordDecline(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  card: TestCard,
  decline: Decline,
  origin: RequestOrigin,
  attempt: Omit<AttemptResult, 'decline'> = {},
): ChargeObject {
  const paymentMethod = idOf(intent.payment_method) as string;
  const charge = createCharge(ctx, intent, paymentMethod, card, { ...attempt, decline }, origin.idempotencyKey);
  intent.latest_charge = charge.id;
  intent.status = 'requires_payment_method';
  intent.next_action = null;
  intent.processing = null;
  const method = paymentMethodObject(paymentMethod, ctx.clock.nowSeconds());
  intent.last_payment_error = {
    type: 'card_error',
    code: decline.code,
    ...(decline.declineCode ? { decline_code: decline.declineCode } : {}),
    message: decline.message,
    ...(decline.param ? { param: decline.param } : {}),
    charge: charge.id,
    doc_url: docUrl(decline.code),
    ...(method ? { payment_method: method } : {}),
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
  const paymentMethod = idOf(intent.payment_method) as string;
  const card = requireTestCard(paymentMethod);
  if (succeeded) {
    const chargeKey = ctx.store.confirmIdempotencyKeys.get(intent.id) ?? origin.idempotencyKey;
    const after = card.outcome.kind === 'authentication_required' ? card.outcome.afterAuthentication : undefined;
    if (after) {
      recordDecline(ctx, intent, card, after, { ...origin, idempotencyKey: chargeKey }, { authenticated: true });
      return intent;
    }
    return succeedPayment(ctx, intent, card, origin, chargeKey, { authenticated: true });
  }
  intent.status = 'requires_payment_method';
  intent.next_action = null;
  const method = paymentMethodObject(paymentMethod, ctx.clock.nowSeconds());
  intent.last_payment_error = {
    type: 'card_error',
    code: 'payment_intent_authentication_failure',
    message:
      'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    doc_url: docUrl('payment_intent_authentication_failure'),
    ...(method ? { payment_method: method } : {}),
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
      { param: 'amount_to_capture', code: 'amount_too_large' },
    );
  }
  const charge = ctx.store.charges.get(idOf(intent.latest_charge) as string) as ChargeObject;
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
  reason: Stripe.PaymentIntent.CancellationReason | undefined,
  origin: RequestOrigin,
): PaymentIntentObject {
  if (!CANCELABLE.includes(intent.status)) {
    throw unexpectedState(
      `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. ` +
        `Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
    );
  }
  const held = intent.status === 'requires_capture' ? ctx.store.charges.get(idOf(intent.latest_charge) as string) : undefined;
  intent.status = 'canceled';
  intent.canceled_at = ctx.clock.nowSeconds();
  intent.cancellation_reason = reason ?? null;
  intent.amount_capturable = 0;
  intent.next_action = null;
  intent.processing = null;
  if (held) {
    // Canceling an authorized payment releases the hold, which Stripe reports as a full refund.
    held.amount_refunded = held.amount;
    held.refunded = true;
    ctx.events.emit('charge.refunded', held, origin);
  }
  ctx.events.emit('payment_intent.canceled', intent, origin);
  return intent;
}

/** What `POST /v1/payment_intents/{id}` may change; absent fields stay as they are. */
export interface PaymentIntentUpdate {
  amount?: number;
  currency?: string;
  paymentMethod?: string;
  paymentMethodTypes?: string[];
  captureMethod?: CaptureMethod;
  customer?: string;
  description?: string | null;
  /** keys with an empty value are removed, as with every metadata update; null removes them all */
  metadata?: Metadata | null;
  receiptEmail?: string | null;
  setupFutureUsage?: Stripe.PaymentIntent.SetupFutureUsage | null;
  shipping?: Stripe.PaymentIntent.Shipping | null;
  statementDescriptor?: string;
  statementDescriptorSuffix?: string;
  transferGroup?: string;
}

const BEFORE_CONFIRMATION: readonly PaymentIntentStatus[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const UNTIL_CAPTURE: readonly PaymentIntentStatus[] = [...BEFORE_CONFIRMATION, 'requires_capture'];
const ANY_STATUS = 'any';

/** In which statuses Stripe lets each parameter change (description and metadata always). */
const UPDATABLE: Record<keyof PaymentIntentUpdate, { param: string; statuses: readonly PaymentIntentStatus[] | typeof ANY_STATUS }> = {
  amount: { param: 'amount', statuses: BEFORE_CONFIRMATION },
  currency: { param: 'currency', statuses: BEFORE_CONFIRMATION },
  paymentMethod: { param: 'payment_method', statuses: BEFORE_CONFIRMATION },
  paymentMethodTypes: { param: 'payment_method_types', statuses: BEFORE_CONFIRMATION },
  captureMethod: { param: 'capture_method', statuses: BEFORE_CONFIRMATION },
  setupFutureUsage: { param: 'setup_future_usage', statuses: BEFORE_CONFIRMATION },
  statementDescriptor: { param: 'statement_descriptor', statuses: BEFORE_CONFIRMATION },
  statementDescriptorSuffix: { param: 'statement_descriptor_suffix', statuses: BEFORE_CONFIRMATION },
  customer: { param: 'customer', statuses: UNTIL_CAPTURE },
  shipping: { param: 'shipping', statuses: UNTIL_CAPTURE },
  transferGroup: { param: 'transfer_group', statuses: UNTIL_CAPTURE },
  receiptEmail: { param: 'receipt_email', statuses: [...UNTIL_CAPTURE, 'succeeded'] },
  description: { param: 'description', statuses: ANY_STATUS },
  metadata: { param: 'metadata', statuses: ANY_STATUS },
};

/** Changes that make Stripe ask for a new confirmation. */
const RECONFIRM: readonly (keyof PaymentIntentUpdate)[] = ['amount', 'currency', 'paymentMethod', 'paymentMethodTypes', 'captureMethod'];

/**
 * Updates a PaymentIntent without confirming it, refusing what its status no longer allows with
 * Stripe's payment_intent_unexpected_state. Stripe sends no event for an update.
 */
export function updatePaymentIntent(ctx: EmulatorContext, intent: PaymentIntentObject, update: PaymentIntentUpdate): PaymentIntentObject {
  for (const field of Object.keys(update) as (keyof PaymentIntentUpdate)[]) {
    if (update[field] === undefined) continue;
    const { param, statuses } = UPDATABLE[field];
    if (statuses !== ANY_STATUS && !statuses.includes(intent.status)) {
      throw invalidRequest(
        `This PaymentIntent's ${param} could not be updated because it has a status of ${intent.status}. ` +
          `You may only update the ${param} of a PaymentIntent with one of the following statuses: ${statuses.join(', ')}.`,
        { code: 'payment_intent_unexpected_state', param },
      );
    }
  }
  if (update.paymentMethod) requireTestCard(update.paymentMethod);
  if (update.transferGroup !== undefined && intent.transfer_group !== null && intent.transfer_group !== update.transferGroup) {
    throw invalidRequest('You can only provide transfer_group if it has not been set.', { param: 'transfer_group' });
  }
  const paymentMethodTypes = update.paymentMethodTypes;
  applyChanges(intent, {
    amount: update.amount,
    currency: update.currency,
    payment_method: update.paymentMethod,
    payment_method_types: paymentMethodTypes,
    payment_method_options: paymentMethodTypes && (paymentMethodTypes.includes('card') ? cardOptions() : {}),
    capture_method: update.captureMethod,
    customer: update.customer,
    description: update.description,
    metadata: update.metadata === undefined ? undefined : mergeMetadata(intent.metadata, update.metadata),
    receipt_email: update.receiptEmail,
    setup_future_usage: update.setupFutureUsage,
    shipping: update.shipping,
    statement_descriptor: update.statementDescriptor,
    statement_descriptor_suffix: update.statementDescriptorSuffix,
    transfer_group: update.transferGroup,
  });
  if (RECONFIRM.some((field) => update[field] !== undefined)) {
    intent.next_action = null;
    intent.status = intent.payment_method ? 'requires_confirmation' : 'requires_payment_method';
  }
  return intent;
}
