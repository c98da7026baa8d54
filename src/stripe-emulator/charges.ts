import { randomInt, randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { EmulatorContext } from './context.js';
import { ID_PREFIX, newId } from './ids.js';
import { emptyBillingDetails, type ChargeObject, type Metadata, type PaymentIntentObject, type RequestOrigin } from './objects.js';
import { invalidRequest, resourceMissing } from './errors.js';
import { mergeMetadata } from './params.js';
import { cardDetails, type Decline, type TestCard } from './payment-methods.js';
import { applyChanges, changedAnything } from './updates.js';

/** What the account's statement descriptor would be: the emulator is one account with this name. */
const ACCOUNT_STATEMENT_DESCRIPTOR = 'STRIPE EMULATOR';
/** Stripe releases an uncaptured authorization after seven days. */
const AUTHORIZATION_LIFETIME_SECONDS = 7 * 24 * 3600;

/** How one payment attempt went, as the Charge records it. */
export interface AttemptResult {
  decline?: Decline;
  /** Radar stopped it before the card network saw it */
  blocked?: boolean;
  /** the customer completed a 3-D Secure challenge first */
  authenticated?: boolean;
}

const RISK_SCORE = { normal: 20, elevated: 70, highest: 95 } as const;

function outcomeOf(card: TestCard, result: AttemptResult): Stripe.Charge.Outcome {
  const common = {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    risk_level: card.riskLevel,
    risk_score: RISK_SCORE[card.riskLevel],
  };
  if (result.blocked) {
    return {
      ...common,
      network_status: 'not_sent_to_network',
      reason: 'highest_risk_level',
      seller_message: 'Stripe blocked this payment as too risky.',
      type: 'blocked',
    };
  }
  if (result.decline) {
    return {
      ...common,
      advice_code: 'try_again_later',
      network_status: 'declined_by_network',
      reason: result.decline.declineCode ?? result.decline.code,
      seller_message: 'The bank did not return any further details with this decline.',
      type: 'issuer_declined',
    };
  }
  return { ...common, network_status: 'approved_by_network', reason: null, seller_message: 'Payment complete.', type: 'authorized' };
}

/** Stripe's `calculated_statement_descriptor`: the account's (or the payment's) descriptor and the suffix. */
function calculatedDescriptor(intent: PaymentIntentObject): string {
  const prefix = intent.statement_descriptor ?? ACCOUNT_STATEMENT_DESCRIPTOR;
  const suffix = intent.statement_descriptor_suffix;
  return (suffix ? `${prefix.slice(0, 10)}* ${suffix}` : prefix).slice(0, 22);
}

function digits(count: number): string {
  return Array.from({ length: count }, () => randomInt(10)).join('');
}

/**
 * Creates the Charge for one payment attempt of a PaymentIntent: succeeded (captured now, or only
 * authorized for manual capture) or failed with the decline. `idempotencyKey` is the key of the
 * request that caused the attempt, remembered for the double-charge report.
 */
export function createCharge(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  paymentMethod: string,
  card: TestCard,
  result: AttemptResult,
  idempotencyKey: string | null,
): ChargeObject {
  const failed = result.decline !== undefined;
  const captured = !failed && intent.capture_method !== 'manual';
  const created = ctx.clock.nowSeconds();
  const id = newId(ID_PREFIX.charge);
  const details = cardDetails(card);
  const charge: ChargeObject = {
    id,
    object: 'charge',
    amount: intent.amount,
    amount_captured: captured ? intent.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: null,
    billing_details: emptyBillingDetails(),
    calculated_statement_descriptor: calculatedDescriptor(intent),
    captured,
    created,
    currency: intent.currency,
    customer: intent.customer,
    description: intent.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: result.decline ? result.decline.code : null,
    failure_message: result.decline ? result.decline.message : null,
    fraud_details: {},
    livemode: false,
    metadata: { ...intent.metadata },
    on_behalf_of: null,
    outcome: outcomeOf(card, result),
    paid: !failed,
    payment_intent: intent.id,
    payment_method: paymentMethod,
    payment_method_details: {
      type: 'card',
      card: {
        amount_authorized: failed ? null : intent.amount,
        authorization_code: failed ? null : digits(6),
        brand: details.brand,
        ...(intent.capture_method === 'manual' && !failed ? { capture_before: created + AUTHORIZATION_LIFETIME_SECONDS } : {}),
        checks: details.checks,
        country: details.country,
        electronic_commerce_indicator: result.authenticated ? '05' : null,
        exp_month: details.exp_month,
        exp_year: details.exp_year,
        fingerprint: details.fingerprint,
        funding: details.funding,
        installments: null,
        last4: details.last4,
        mandate: null,
        network: details.brand,
        network_transaction_id: failed ? null : digits(15),
        regulated_status: details.regulated_status,
        three_d_secure: result.authenticated
          ? {
              authentication_flow: 'challenge',
              electronic_commerce_indicator: '05',
              exemption_indicator: null,
              result: 'authenticated',
              result_reason: null,
              transaction_id: randomUUID(),
              version: '2.2.0',
            }
          : null,
        transaction_link_id: null,
        wallet: null,
      },
    },
    receipt_email: intent.receipt_email,
    receipt_number: null,
    receipt_url: failed ? null : `${ctx.baseUrl()}/receipts/${id}`,
    refunded: false,
    review: null,
    shipping: intent.shipping ? { ...structuredClone(intent.shipping) } : null,
    source: null,
    source_transfer: null,
    statement_descriptor: intent.statement_descriptor,
    statement_descriptor_suffix: intent.statement_descriptor_suffix,
    status: failed ? 'failed' : 'succeeded',
    transfer_data: null,
    transfer_group: intent.transfer_group,
  };
  ctx.store.charges.set(charge.id, charge);
  ctx.store.chargeIdempotencyKeys.set(charge.id, idempotencyKey);
  return charge;
}

export function getCharge(ctx: EmulatorContext, id: string): ChargeObject {
  const charge = ctx.store.charges.get(id);
  if (!charge) throw resourceMissing('charge', id);
  return charge;
}

/** What `POST /v1/charges/{id}` may change; absent fields stay as they are. */
export interface ChargeUpdate {
  customer?: string;
  description?: string;
  /** keys with an empty value are removed; null removes them all */
  metadata?: Metadata | null;
  receiptEmail?: string;
  shipping?: Stripe.Charge.Shipping | null;
  fraudDetails?: { user_report: 'fraudulent' | 'safe' };
  transferGroup?: string;
}

/**
 * Updates a Charge as Stripe does: `customer` only if it has none, `transfer_group` only if unset;
 * a change sends `charge.updated` with the previous values.
 */
export function updateCharge(ctx: EmulatorContext, charge: ChargeObject, update: ChargeUpdate, origin: RequestOrigin): ChargeObject {
  if (update.customer !== undefined && charge.customer !== null && charge.customer !== update.customer) {
    throw invalidRequest('You cannot change the customer of a charge that already has one.', { param: 'customer' });
  }
  if (update.transferGroup !== undefined && charge.transfer_group !== null && charge.transfer_group !== update.transferGroup) {
    throw invalidRequest('You can only provide transfer_group if it has not been set.', { param: 'transfer_group' });
  }
  const previous = applyChanges(charge, {
    customer: update.customer,
    description: update.description,
    metadata: update.metadata === undefined ? undefined : mergeMetadata(charge.metadata, update.metadata),
    receipt_email: update.receiptEmail,
    shipping: update.shipping,
    fraud_details: update.fraudDetails && { ...charge.fraud_details, ...update.fraudDetails },
    transfer_group: update.transferGroup,
  });
  if (changedAnything(previous)) ctx.events.emit('charge.updated', charge, origin, previous);
  return charge;
}
