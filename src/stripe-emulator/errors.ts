import type Stripe from 'stripe';

/**
 * Errors in Stripe's wire format. Handlers throw these; the request pipeline turns them into
 * `{"error": {...}}` with the HTTP status Stripe uses for each type.
 */

export type StripeErrorType = 'invalid_request_error' | 'card_error' | 'api_error' | 'idempotency_error';

/** The literal members of a union, without the SDK's `OtherString`. */
type Literal<T> = T extends string ? (string extends T ? never : T) : never;

/**
 * Stripe's error codes in the API version the SDK pins: a code outside this list does not
 * compile. Where Stripe has no code for a problem, the error has none.
 */
export type StripeErrorCode = Literal<Stripe.PaymentIntent.LastPaymentError.Code>;

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: StripeErrorCode;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.name = 'StripeApiError';
  }

  toJSON(): { error: StripeErrorBody } {
    return { error: this.body };
  }
}

function docUrl(code: StripeErrorCode | undefined): { doc_url?: string } {
  return code ? { doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` } : {};
}

export function invalidRequest(message: string, options: { param?: string; code?: StripeErrorCode; status?: number } = {}): StripeApiError {
  return new StripeApiError(options.status ?? 400, {
    type: 'invalid_request_error',
    message,
    ...(options.code ? { code: options.code } : {}),
    ...(options.param ? { param: options.param } : {}),
    ...docUrl(options.code),
  });
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, { param, code: 'parameter_missing' });
}

/**
 * An id that names nothing. `kind` is Stripe's wording, e.g. "payment_intent" or "PaymentMethod".
 * Stripe answers 404 when the id is in the URL and 400 when it is a parameter of the request.
 */
export function resourceMissing(kind: string, id: string, { param = 'id', inUrl = true } = {}): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, { param, code: 'resource_missing', status: inUrl ? 404 : 400 });
}

export function unexpectedState(message: string, code: StripeErrorCode = 'payment_intent_unexpected_state'): StripeApiError {
  return invalidRequest(message, { code });
}

export function apiError(message = 'An unknown error occurred'): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message });
}

export function authenticationError(message: string): StripeApiError {
  // Stripe reports a missing or wrong key as an invalid_request_error with status 401.
  return new StripeApiError(401, { type: 'invalid_request_error', message });
}

export function rateLimited(): StripeApiError {
  return new StripeApiError(
    429,
    {
      type: 'invalid_request_error',
      code: 'rate_limit',
      message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
      ...docUrl('rate_limit'),
    },
    { 'Stripe-Should-Retry': 'true' },
  );
}
