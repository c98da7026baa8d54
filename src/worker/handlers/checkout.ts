import { checkoutRequestedSchema, EventTypes, type CheckoutRequested, type CheckoutSessionCreated } from '../../payments/events.js';
import type { Decision, GroupCommitter } from '../../payments/group-commit.js';
import { toMajorUnits } from '../../payments/money.js';
import { isTerminal } from '../../payments/status.js';
import { ConcurrentPaymentWriteError, type PaymentRow } from '../../payments/store.js';
import { createCheckoutSessionOnce, type CheckoutUrls } from '../../payments/stripe-calls.js';
import { Topics } from '../../kafka/topics.js';
import type { StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';

interface Session {
  sessionId: string;
  url: string;
  idempotencyKey?: string;
}

/** The session already made for this trip, if the row remembers it. */
function recordedSession(row: PaymentRow | undefined): Session | undefined {
  const url = row?.metadata.checkout_url;
  return row?.checkoutSessionId && url ? { sessionId: row.checkoutSessionId, url } : undefined;
}

/**
 * Records the trip's session (pending until the webhook) and announces it. A trip that already has
 * a session announces that one again: a repeated request gets the same answer.
 */
export function decideSession(request: CheckoutRequested, created: Session | undefined, current: PaymentRow | undefined): Decision {
  if (current && isTerminal(current.status)) return { result: 'already_recorded' };
  const recorded = recordedSession(current);
  const session = recorded ?? created;
  if (!session) throw new Error(`trip ${request.trip_id}: no session to announce`);
  const data: CheckoutSessionCreated = {
    trip_id: request.trip_id,
    user_id: request.user_id,
    driver_id: request.driver_id,
    session_id: session.sessionId,
    url: session.url,
    amount: toMajorUnits(request.amount, request.currency),
    amount_minor: request.amount,
    currency: request.currency,
  };
  const events = [{ topic: Topics.checkoutSessionCreated, key: request.trip_id, type: EventTypes.checkoutSessionCreated, data }];
  if (recorded) return { result: 'session_repeated', events };
  return {
    result: 'session_created',
    events,
    write: {
      aggregateId: request.trip_id,
      kind: 'checkout_session',
      status: current?.status ?? 'pending',
      amount: request.amount,
      currency: request.currency,
      idempotencyKey: session.idempotencyKey ?? null,
      checkoutSessionId: session.sessionId,
      metadata: { trip_id: request.trip_id, user_id: request.user_id, driver_id: request.driver_id, checkout_url: session.url },
    },
  };
}

/**
 * checkout.requested → a Checkout Session (key cs:<trip_id>) whose metadata carries trip, rider and
 * driver → payments row (pending until the webhook) + payments.checkout_session_created.
 */
export function checkoutHandler(deps: {
  committer: GroupCommitter;
  gateway: StripeGateway;
  urls: CheckoutUrls;
}): TopicHandler<CheckoutRequested> {
  const consumer = 'worker.checkout';
  return {
    handler: 'checkout',
    topic: Topics.checkoutRequested,
    consumer,
    schema: checkoutRequestedSchema,
    aggregateOf: (request) => request.trip_id,
    async handle(request, message, known) {
      const inbox = { consumer, messageId: message.messageId };
      const needsSession = !(known && isTerminal(known.status)) && !recordedSession(known);
      const created = needsSession ? await createCheckoutSessionOnce(deps.gateway, request, deps.urls) : undefined;
      const committed = await deps.committer.submit(inbox, request.trip_id, (current) => {
        // The row gained or lost its session since it was read: start over from the new row.
        if (!created && !recordedSession(current) && !(current && isTerminal(current.status)))
          throw new ConcurrentPaymentWriteError(request.trip_id);
        return decideSession(request, created, current);
      });
      return committed.duplicate ? 'duplicate' : committed.value;
    },
  };
}
