import type { CardDetails, PaymentMethodObject } from './objects.js';

/**
 * Stripe's test PaymentMethods and what confirming a payment with each does. The ids are Stripe's
 * own (https://docs.stripe.com/testing), so code written against test mode works here unchanged.
 */

export interface Decline {
  code: string;
  declineCode: string;
  message: string;
  param?: string;
}

export type CardOutcome = { kind: 'success' } | { kind: 'decline'; decline: Decline } | { kind: 'authentication_required' };

export interface TestCard {
  card: CardDetails;
  outcome: CardOutcome;
}

const card = (brand: string, last4: string, funding: 'credit' | 'debit' = 'credit'): CardDetails => ({
  brand,
  last4,
  exp_month: 12,
  exp_year: new Date().getUTCFullYear() + 3,
  funding,
  country: 'US',
});

const declined = (declineCode: string, message: string, code = 'card_declined', param?: string): CardOutcome => ({
  kind: 'decline',
  decline: { code, declineCode, message, ...(param ? { param } : {}) },
});

const SUCCESS: CardOutcome = { kind: 'success' };

const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: { card: card('visa', '4242'), outcome: SUCCESS },
  pm_card_visa_debit: { card: card('visa', '5556', 'debit'), outcome: SUCCESS },
  pm_card_mastercard: { card: card('mastercard', '4444'), outcome: SUCCESS },
  pm_card_amex: { card: card('amex', '8431'), outcome: SUCCESS },
  pm_card_chargeDeclined: { card: card('visa', '0002'), outcome: declined('generic_decline', 'Your card was declined.') },
  pm_card_chargeDeclinedInsufficientFunds: {
    card: card('visa', '9995'),
    outcome: declined('insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_chargeDeclinedLostCard: { card: card('visa', '9987'), outcome: declined('lost_card', 'Your card was declined.') },
  pm_card_chargeDeclinedStolenCard: { card: card('visa', '9979'), outcome: declined('stolen_card', 'Your card was declined.') },
  pm_card_chargeDeclinedExpiredCard: {
    card: card('visa', '0069'),
    outcome: declined('expired_card', 'Your card has expired.', 'expired_card', 'exp_month'),
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    card: card('visa', '0127'),
    outcome: declined('incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc', 'cvc'),
  },
  pm_card_chargeDeclinedProcessingError: {
    card: card('visa', '0119'),
    outcome: declined('processing_error', 'An error occurred while processing your card. Try again in a little bit.', 'processing_error'),
  },
  pm_card_authenticationRequired: { card: card('visa', '3184'), outcome: { kind: 'authentication_required' } },
};

export function testCard(id: string): TestCard | undefined {
  return Object.hasOwn(TEST_CARDS, id) ? TEST_CARDS[id] : undefined;
}

export function knownPaymentMethodIds(): string[] {
  return Object.keys(TEST_CARDS);
}

export function paymentMethodObject(id: string, created: number): PaymentMethodObject | null {
  const found = testCard(id);
  if (!found) return null;
  return { id, object: 'payment_method', type: 'card', card: { ...found.card }, created, customer: null, livemode: false, metadata: {} };
}
