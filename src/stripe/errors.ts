import Stripe from 'stripe';

/**
 * What a caller should do about a failed Stripe call:
 * - retryable: try again later with the same idempotency key (network, timeout, 5xx, 429, 409 key in use);
 * - declined: a business outcome, not a failure — record it, do not retry (card declined, with its code);
 * - action_required: the customer must act (3-D Secure); the payment waits for them;
 * - invalid: a bug or misconfiguration (bad parameters, idempotency key reused with other
 *   parameters, authentication); retrying cannot help — alert.
 */
export type StripeFailureKind = 'retryable' | 'declined' | 'action_required' | 'invalid';

export class StripeGatewayError extends Error {
  constructor(
    readonly kind: StripeFailureKind,
    message: string,
    readonly details: {
      statusCode?: number;
      code?: string;
      declineCode?: string;
      requestId?: string;
      paymentIntentId?: string;
      /** Stripe answered from its idempotency store: the request with this key had already finished */
      replayed?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'StripeGatewayError';
  }

  get retryable(): boolean {
    return this.kind === 'retryable';
  }
}

const RETRYABLE_409_CODES = new Set(['idempotency_key_in_use', 'lock_timeout']);

/** Sorts any error from the Stripe SDK into one of the four kinds; never echoes secrets. */
export function classifyStripeError(error: unknown): StripeGatewayError {
  if (error instanceof StripeGatewayError) return error;
  if (!(error instanceof Stripe.errors.StripeError)) {
    // Not from the SDK. A raw socket error or timeout is worth retrying; a programming error
    // (TypeError and the like) never is.
    const message = `Stripe request failed: ${(error as Error)?.message ?? String(error)}`;
    const isBug =
      error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError || error instanceof ReferenceError;
    return new StripeGatewayError(isBug ? 'invalid' : 'retryable', message, { cause: error });
  }
  const details = {
    statusCode: error.statusCode,
    code: error.code,
    declineCode: error.decline_code || undefined,
    requestId: error.requestId,
    paymentIntentId: error.payment_intent?.id,
    replayed: headerOf(error, 'idempotent-replayed') === 'true',
    cause: error,
  };
  const shouldRetry = headerOf(error, 'stripe-should-retry');
  const message = error.message || error.type;
  if (error instanceof Stripe.errors.StripeCardError) {
    // Only a PaymentIntent left in requires_action waits for the customer; an off-session
    // `authentication_required` leaves it needing a new payment method: a decline.
    if (error.payment_intent?.status === 'requires_action') {
      return new StripeGatewayError('action_required', message, details);
    }
    return new StripeGatewayError('declined', message, details);
  }
  if (shouldRetry === 'false') return new StripeGatewayError('invalid', message, details);
  if (error instanceof Stripe.errors.StripeConnectionError) return new StripeGatewayError('retryable', message, details);
  if (error instanceof Stripe.errors.StripeRateLimitError) return new StripeGatewayError('retryable', message, details);
  if (error instanceof Stripe.errors.StripeAPIError || (error.statusCode ?? 0) >= 500) {
    return new StripeGatewayError('retryable', message, details);
  }
  if (error.statusCode === 409 && (RETRYABLE_409_CODES.has(error.code ?? '') || shouldRetry === 'true')) {
    return new StripeGatewayError('retryable', message, details);
  }
  if (error instanceof Stripe.errors.StripeAuthenticationError) {
    return new StripeGatewayError('invalid', `${message} (check STRIPE_API_KEY)`, details);
  }
  return new StripeGatewayError('invalid', message, details);
}

function headerOf(error: InstanceType<typeof Stripe.errors.StripeError>, name: string): string | undefined {
  const headers = error.headers as Record<string, string | string[] | undefined> | undefined;
  if (!headers) return undefined;
  const value = headers[name] ?? Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A 5xx that Stripe replayed from its idempotency store: the first request with this key finished
 * (perhaps after doing the work) and every retry with the key gets the same 500 for 24 hours. The
 * outcome is unknown until looked up; retrying with the key cannot help.
 */
export function isReplayedServerError(error: unknown): error is StripeGatewayError {
  return error instanceof StripeGatewayError && error.details.replayed === true && (error.details.statusCode ?? 0) >= 500;
}
