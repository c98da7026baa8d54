import type Stripe from 'stripe';
import type { IntentFacts, SessionFacts } from '../../payments/decisions/reconcile.js';
import { aggregateIdsIn } from '../../payments/events.js';

/** Stripe's objects as reconciliation's decisions compare them: plain data, our metadata read as the webhook reads it. */

function cleanMetadata(metadata: Stripe.Metadata | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) if (typeof value === 'string' && value.trim() !== '') out[key] = value.trim();
  return out;
}

const idOf = (value: string | { id: string } | null | undefined): string | undefined =>
  typeof value === 'string' ? value : (value?.id ?? undefined);

export function intentFacts(intent: Stripe.PaymentIntent, refundIds: string[] = []): IntentFacts {
  const charge = typeof intent.latest_charge === 'object' && intent.latest_charge !== null ? intent.latest_charge : undefined;
  const error = intent.last_payment_error;
  return {
    id: intent.id,
    created: intent.created,
    status: intent.status,
    amount: intent.amount,
    amountReceived: intent.amount_received ?? 0,
    currency: intent.currency,
    ids: aggregateIdsIn(cleanMetadata(intent.metadata)),
    ...(idOf(intent.latest_charge) ? { chargeId: idOf(intent.latest_charge)! } : {}),
    amountRefunded: charge?.amount_refunded ?? 0,
    refunded: charge?.refunded === true,
    refundIds,
    ...(error
      ? {
          lastError: {
            ...(error.message ? { message: error.message } : {}),
            ...(error.code ? { code: error.code } : {}),
            ...(error.decline_code ? { declineCode: error.decline_code } : {}),
          },
        }
      : {}),
  };
}

export function sessionFacts(session: Stripe.Checkout.Session): SessionFacts {
  return {
    id: session.id,
    created: session.created,
    status: session.status ?? 'open',
    paymentStatus: session.payment_status,
    amountTotal: session.amount_total,
    currency: session.currency,
    ids: aggregateIdsIn(cleanMetadata(session.metadata)),
    ...(idOf(session.payment_intent) ? { paymentIntentId: idOf(session.payment_intent)! } : {}),
  };
}
