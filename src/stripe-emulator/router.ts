import type { FormObject } from './form.js';
import type { RequestOrigin } from './objects.js';

/** One Stripe API call as a resource handler sees it, after authentication and idempotency. */
export interface ApiRequest {
  /** the form body of a POST, or the query string of a GET/DELETE, with nested keys parsed */
  params: FormObject;
  /** path parameters, e.g. `{ id: 'pi_…' }` for /v1/payment_intents/:id */
  path: Record<string, string>;
  /** request id and Idempotency-Key, recorded on the Events this call creates */
  origin: RequestOrigin;
  /** the request path without its query string, which Stripe puts in list objects as `url` */
  url: string;
}

/**
 * Returns the response body (status 200) or throws a StripeApiError. Handlers are synchronous:
 * each call changes the in-memory state in one step, so concurrent requests cannot interleave.
 */
export type ApiHandler = (request: ApiRequest) => unknown;

export interface ApiRouter {
  get(path: string, handler: ApiHandler): void;
  post(path: string, handler: ApiHandler): void;
  delete(path: string, handler: ApiHandler): void;
}
