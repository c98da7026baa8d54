import { createHash } from 'node:crypto';
import type { StripeErrorCode } from './errors.js';
import { emptyBillingDetails, type CardDetails, type PaymentMethodObject } from './objects.js';

/**
 * Stripe's test PaymentMethods and what confirming a payment with each does. The ids are Stripe's
 * own (https://docs.stripe.com/testing), so code written against test mode works here unchanged.
 */

export interface Decline {
  code: StripeErrorCode;
  declineCode?: string;
  message: string;
  param?: string;
}

export type CardOutcome =
  | { kind: 'success' }
  | { kind: 'decline'; decline: Decline }
  /** Radar blocks the payment before it reaches the card network */
  | { kind: 'blocked'; decline: Decline }
  /** 3-D Secure first; then the payment succeeds, or is declined with `afterAuthentication` */
  | { kind: 'authentication_required'; afterAuthentication?: Decline };

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'diners' | 'jcb' | 'unionpay';

export interface TestCard {
  brand: CardBrand;
  last4: string;
  funding: 'credit' | 'debit' | 'prepaid';
  country: string;
  /** whether the card takes part in 3-D Secure at all */
  threeDSecureSupported: boolean;
  riskLevel: 'normal' | 'elevated' | 'highest';
  outcome: CardOutcome;
}

/** How Stripe shows each brand to customers (`display_brand`). */
const DISPLAY_BRAND: Record<CardBrand, string> = {
  visa: 'visa',
  mastercard: 'mastercard',
  amex: 'american_express',
  discover: 'discover',
  diners: 'diners_club',
  jcb: 'jcb',
  unionpay: 'union_pay',
};

const card = (brand: CardBrand, last4: string, outcome: CardOutcome = SUCCESS, extra: Partial<TestCard> = {}): TestCard => ({
  brand,
  last4,
  funding: 'credit',
  country: 'US',
  threeDSecureSupported: true,
  riskLevel: 'normal',
  outcome,
  ...extra,
});

const declined = (
  declineCode: string | undefined,
  message: string,
  code: StripeErrorCode = 'card_declined',
  param?: string,
): CardOutcome => ({
  kind: 'decline',
  decline: { code, ...(declineCode ? { declineCode } : {}), message, ...(param ? { param } : {}) },
});

const SUCCESS: CardOutcome = { kind: 'success' };
const GENERIC_DECLINE = declined('generic_decline', 'Your card was declined.');
const INSUFFICIENT_FUNDS = declined('insufficient_funds', 'Your card has insufficient funds.');
const LOST_CARD = declined('lost_card', 'Your card was declined.');
const STOLEN_CARD = declined('stolen_card', 'Your card was declined.');
const EXPIRED_CARD = declined(undefined, 'Your card has expired.', 'expired_card', 'exp_month');
const INCORRECT_CVC = declined(undefined, "Your card's security code is incorrect.", 'incorrect_cvc', 'cvc');
const PROCESSING_ERROR = declined(
  undefined,
  'An error occurred while processing your card. Try again in a little bit.',
  'processing_error',
);
const VELOCITY_EXCEEDED = declined(
  'card_velocity_exceeded',
  'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.',
);

const TEST_CARDS: Record<string, TestCard> = {
  // Cards by brand
  pm_card_visa: card('visa', '4242'),
  pm_card_visa_debit: card('visa', '5556', SUCCESS, { funding: 'debit' }),
  pm_card_mastercard: card('mastercard', '4444'),
  pm_card_mastercard_debit: card('mastercard', '8210', SUCCESS, { funding: 'debit' }),
  pm_card_mastercard_prepaid: card('mastercard', '5100', SUCCESS, { funding: 'prepaid' }),
  pm_card_amex: card('amex', '8431'),
  pm_card_discover: card('discover', '1117'),
  pm_card_diners: card('diners', '0004'),
  pm_card_jcb: card('jcb', '0505', SUCCESS, { country: 'JP' }),
  pm_card_unionpay: card('unionpay', '0005', SUCCESS, { country: 'CN' }),
  // Declined payments (with and without the `_visa` infix: both spellings are in Stripe's docs)
  pm_card_visa_chargeDeclined: card('visa', '0002', GENERIC_DECLINE),
  pm_card_chargeDeclined: card('visa', '0002', GENERIC_DECLINE),
  pm_card_visa_chargeDeclinedInsufficientFunds: card('visa', '9995', INSUFFICIENT_FUNDS),
  pm_card_chargeDeclinedInsufficientFunds: card('visa', '9995', INSUFFICIENT_FUNDS),
  pm_card_visa_chargeDeclinedLostCard: card('visa', '9987', LOST_CARD),
  pm_card_chargeDeclinedLostCard: card('visa', '9987', LOST_CARD),
  pm_card_visa_chargeDeclinedStolenCard: card('visa', '9979', STOLEN_CARD),
  pm_card_chargeDeclinedStolenCard: card('visa', '9979', STOLEN_CARD),
  pm_card_chargeDeclinedExpiredCard: card('visa', '0069', EXPIRED_CARD),
  pm_card_chargeDeclinedIncorrectCvc: card('visa', '0127', INCORRECT_CVC),
  pm_card_chargeDeclinedProcessingError: card('visa', '0119', PROCESSING_ERROR),
  pm_card_visa_chargeDeclinedVelocityLimitExceeded: card('visa', '6975', VELOCITY_EXCEEDED),
  pm_card_chargeCustomerFail: card('visa', '0341', GENERIC_DECLINE),
  // Fraud prevention
  pm_card_radarBlock: card(
    'visa',
    '0019',
    { kind: 'blocked', decline: { code: 'card_declined', declineCode: 'fraudulent', message: 'Your card was declined.' } },
    { riskLevel: 'highest' },
  ),
  pm_card_riskLevelElevated: card('visa', '9235', SUCCESS, { riskLevel: 'elevated' }),
  // 3-D Secure
  pm_card_authenticationRequired: card('visa', '3184', { kind: 'authentication_required' }, { country: 'IE' }),
  pm_card_threeDSecure2Required: card('visa', '3220', { kind: 'authentication_required' }),
  pm_card_threeDSecureRequiredChargeDeclined: card('visa', '1629', {
    kind: 'authentication_required',
    afterAuthentication: { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
  }),
  pm_card_threeDSecureOptional: card('visa', '3055'),
  pm_card_amex_threeDSecureNotSupported: card('amex', '0005', SUCCESS, { threeDSecureSupported: false }),
};

export function testCard(id: string): TestCard | undefined {
  return Object.hasOwn(TEST_CARDS, id) ? TEST_CARDS[id] : undefined;
}

export function knownPaymentMethodIds(): string[] {
  return Object.keys(TEST_CARDS);
}

/** Test cards do not expire: four years from now, as a card issued today would. */
function expiry(): { exp_month: number; exp_year: number } {
  return { exp_month: 12, exp_year: new Date().getUTCFullYear() + 4 };
}

/** Stripe's `fingerprint`: the same card number always gives the same one. */
function fingerprint(found: TestCard): string {
  return createHash('sha256').update(`${found.brand}:${found.last4}:${found.funding}`).digest('base64url').slice(0, 16);
}

export function cardDetails(found: TestCard): CardDetails {
  return {
    brand: found.brand,
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: null },
    country: found.country,
    display_brand: DISPLAY_BRAND[found.brand],
    ...expiry(),
    fingerprint: fingerprint(found),
    funding: found.funding,
    generated_from: null,
    last4: found.last4,
    networks: { available: [found.brand], preferred: null },
    regulated_status: 'unregulated',
    three_d_secure_usage: { supported: found.threeDSecureSupported },
    wallet: null,
  };
}

export function paymentMethodObject(id: string, created: number): PaymentMethodObject | null {
  const found = testCard(id);
  if (!found) return null;
  return {
    id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: emptyBillingDetails(),
    card: cardDetails(found),
    created,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}
