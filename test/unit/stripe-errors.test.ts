import { describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { classifyStripeError } from '../../src/stripe/errors.js';

const raw = (fields: Record<string, unknown>) => fields as ConstructorParameters<typeof Stripe.errors.StripeError>[0];

describe('classifyStripeError', () => {
  it('declines are business outcomes carrying the decline code', () => {
    const error = classifyStripeError(
      new Stripe.errors.StripeCardError(
        raw({
          statusCode: 402,
          type: 'card_error',
          code: 'card_declined',
          decline_code: 'insufficient_funds',
          message: 'Your card has insufficient funds.',
          payment_intent: { id: 'pi_1', status: 'requires_payment_method' },
        }),
      ),
    );
    expect(error).toMatchObject({
      kind: 'declined',
      details: { code: 'card_declined', declineCode: 'insufficient_funds', paymentIntentId: 'pi_1' },
    });
    expect(error.retryable).toBe(false);
  });

  it('a PaymentIntent waiting for authentication is customer action; off-session authentication_required is a decline', () => {
    const waiting = classifyStripeError(
      new Stripe.errors.StripeCardError(
        raw({ statusCode: 402, code: 'authentication_required', payment_intent: { id: 'pi_2', status: 'requires_action' } }),
      ),
    );
    expect(waiting.kind).toBe('action_required');
    const offSession = classifyStripeError(
      new Stripe.errors.StripeCardError(
        raw({ statusCode: 402, code: 'authentication_required', payment_intent: { id: 'pi_3', status: 'requires_payment_method' } }),
      ),
    );
    expect(offSession.kind).toBe('declined');
  });

  it('a programming error is a bug, not something to retry', () => {
    expect(classifyStripeError(new TypeError("Cannot read properties of undefined (reading 'toLowerCase')")).kind).toBe('invalid');
  });

  it('network errors, timeouts, 5xx, 429 and 409 key-in-use are retryable', () => {
    expect(classifyStripeError(new Stripe.errors.StripeConnectionError(raw({ message: 'socket hang up' }))).kind).toBe('retryable');
    expect(classifyStripeError(new Error('ETIMEDOUT')).kind).toBe('retryable');
    expect(classifyStripeError(new Stripe.errors.StripeAPIError(raw({ statusCode: 500, type: 'api_error' }))).kind).toBe('retryable');
    expect(classifyStripeError(new Stripe.errors.StripeRateLimitError(raw({ statusCode: 429 }))).kind).toBe('retryable');
    expect(
      classifyStripeError(
        new Stripe.errors.StripeInvalidRequestError(
          raw({ statusCode: 409, code: 'idempotency_key_in_use', type: 'invalid_request_error' }),
        ),
      ).kind,
    ).toBe('retryable');
  });

  it('invalid requests, reused keys with other parameters and bad credentials are bugs, not retries', () => {
    expect(classifyStripeError(new Stripe.errors.StripeInvalidRequestError(raw({ statusCode: 400, param: 'amount' }))).kind).toBe(
      'invalid',
    );
    expect(classifyStripeError(new Stripe.errors.StripeIdempotencyError(raw({ statusCode: 400, type: 'idempotency_error' }))).kind).toBe(
      'invalid',
    );
    const auth = classifyStripeError(
      new Stripe.errors.StripeAuthenticationError(raw({ statusCode: 401, message: 'Invalid API Key provided' })),
    );
    expect(auth.kind).toBe('invalid');
    expect(auth.message).toContain('STRIPE_API_KEY');
    // Stripe itself can say a 5xx must not be retried.
    expect(
      classifyStripeError(new Stripe.errors.StripeAPIError(raw({ statusCode: 500, headers: { 'stripe-should-retry': 'false' } }))).kind,
    ).toBe('invalid');
  });
});
