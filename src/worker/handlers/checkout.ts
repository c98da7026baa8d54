import { InboxConsumers, Topics } from '../../contracts.js';
import { decideSession, needsSession } from '../../payments/decisions/checkout.js';
import { checkoutRequestedSchema, type CheckoutRequested } from '../../payments/events.js';
import { createCheckoutSessionOnce, type CheckoutUrls } from '../../payments/stripe-calls.js';
import type { StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';

/**
 * checkout.requested → a Checkout Session (key cs:<trip_id>) whose metadata carries trip, rider and
 * driver → payments row (pending until the webhook) + payments.checkout_session_created.
 */
export function checkoutHandler(deps: { gateway: StripeGateway; urls: CheckoutUrls }): TopicHandler<CheckoutRequested> {
  return {
    name: 'checkout',
    topic: Topics.checkoutRequested,
    consumer: InboxConsumers.checkout,
    schema: checkoutRequestedSchema,
    aggregateOf: (request) => request.trip_id,
    async prepare(request, _message, known) {
      const created = needsSession(known) ? await createCheckoutSessionOnce(deps.gateway, request, deps.urls) : undefined;
      return (current) => decideSession(request, created, current);
    },
  };
}
