import { Topics } from '../../contracts.js';
import { pipelineMessage, type CheckoutRequested, type CheckoutSessionCreated } from '../events.js';
import { toMajorUnits } from '../money.js';
import { ConcurrentPaymentWriteError, type PaymentRow } from '../row.js';
import { isTerminal } from '../status.js';
import type { Decision } from './decision.js';

/** A Checkout Session made for a trip. */
export interface TripSession {
  sessionId: string;
  url: string;
  idempotencyKey?: string;
}

/** The session already made for this trip, if the row remembers it. */
function recordedSession(row: PaymentRow | undefined): TripSession | undefined {
  const url = row?.metadata.checkout_url;
  return row?.checkoutSessionId && url ? { sessionId: row.checkoutSessionId, url } : undefined;
}

/** Whether a trip needs a session made at Stripe: not when it has one already, nor when it is over. */
export function needsSession(known: PaymentRow | undefined): boolean {
  return !(known && isTerminal(known.status)) && !recordedSession(known);
}

/**
 * Records the trip's session (pending until the webhook) and announces it. A trip that already has
 * a session announces that one again: a repeated request gets the same answer. A trip that has no
 * session, and none was `created` for it, changed since it was read (it lost its session): start over.
 */
export function decideSession(request: CheckoutRequested, created: TripSession | undefined, current: PaymentRow | undefined): Decision {
  if (current && isTerminal(current.status)) return { result: 'already_recorded' };
  const recorded = recordedSession(current);
  const session = recorded ?? created;
  if (!session) throw new ConcurrentPaymentWriteError(request.trip_id);
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
  const events = [pipelineMessage(Topics.checkoutSessionCreated, request.trip_id, data)];
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
