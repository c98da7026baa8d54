import type pg from 'pg';
import { enqueue } from '../../outbox/enqueue.js';
import { checkoutRequestedSchema, EventTypes, type CheckoutRequested, type CheckoutSessionCreated } from '../../payments/events.js';
import { toMajorUnits } from '../../payments/money.js';
import { isTerminal } from '../../payments/status.js';
import { inInboxTransaction, lockPayment, writePayment, type PaymentRow } from '../../payments/store.js';
import { createCheckoutSessionOnce, type CheckoutUrls } from '../../payments/stripe-calls.js';
import { Topics } from '../../kafka/topics.js';
import type { StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';

function sessionCreated(request: CheckoutRequested, session: { sessionId: string; url: string }): CheckoutSessionCreated {
  return {
    trip_id: request.trip_id,
    user_id: request.user_id,
    driver_id: request.driver_id,
    session_id: session.sessionId,
    url: session.url,
    amount: toMajorUnits(request.amount, request.currency),
    amount_minor: request.amount,
    currency: request.currency,
  };
}

/** The session already made for this trip, if the row remembers it. */
function recordedSession(row: PaymentRow | undefined): { sessionId: string; url: string } | undefined {
  const url = row?.metadata.checkout_url;
  return row?.checkoutSessionId && url ? { sessionId: row.checkoutSessionId, url } : undefined;
}

/**
 * checkout.requested → a Checkout Session (key cs:<trip_id>) whose metadata carries trip, rider and
 * driver → payments row (pending until the webhook) + payments.checkout_session_created.
 */
export function checkoutHandler(deps: { pool: pg.Pool; gateway: StripeGateway; urls: CheckoutUrls }): TopicHandler<CheckoutRequested> {
  const consumer = 'worker.checkout';
  return {
    handler: 'checkout',
    topic: Topics.checkoutRequested,
    consumer,
    schema: checkoutRequestedSchema,
    aggregateOf: (request) => request.trip_id,
    async handle(request, message, known) {
      const inbox = { consumer, messageId: message.messageId };
      const emit = (client: pg.PoolClient, session: { sessionId: string; url: string }) =>
        enqueue(client, { topic: Topics.checkoutSessionCreated, key: request.trip_id, type: EventTypes.checkoutSessionCreated, data: sessionCreated(request, session) });

      if (known && isTerminal(known.status)) {
        const recorded = await inInboxTransaction(deps.pool, inbox, async () => undefined);
        return recorded.duplicate ? 'duplicate' : 'already_recorded';
      }
      const existing = recordedSession(known);
      // A repeated request for a trip that has its session gets the same session again.
      const created = existing ? undefined : await createCheckoutSessionOnce(deps.gateway, request, deps.urls);
      const session = existing ?? created!;
      const result = await inInboxTransaction(deps.pool, inbox, async (client) => {
        const current = await lockPayment(client, request.trip_id);
        if (current && isTerminal(current.status)) return 'already_recorded';
        const announced = recordedSession(current) ?? session;
        if (!recordedSession(current)) {
          await writePayment(
            client,
            {
              aggregateId: request.trip_id,
              kind: 'checkout_session',
              status: current?.status ?? 'pending',
              amount: request.amount,
              currency: request.currency,
              idempotencyKey: created?.idempotencyKey ?? current?.idempotencyKey ?? known?.idempotencyKey ?? null,
              checkoutSessionId: announced.sessionId,
              metadata: { trip_id: request.trip_id, user_id: request.user_id, driver_id: request.driver_id, checkout_url: announced.url },
            },
            current !== undefined,
          );
        }
        await emit(client, announced);
        return existing || recordedSession(current) ? 'session_repeated' : 'session_created';
      });
      return result.duplicate ? 'duplicate' : result.value;
    },
  };
}
