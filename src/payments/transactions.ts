import type { Db } from './store.js';

/**
 * A user's transaction history (the ride-share seed's GET /api/finance/me): one entry per money
 * event of an order or trip, appended by the worker's history handler. No decisions here: what
 * an event appends is decided in decisions/history.ts; this writes it.
 */

export type TransactionKind = 'charge' | 'refund' | 'failed';
export const TRANSACTION_KINDS: readonly TransactionKind[] = ['charge', 'refund', 'failed'];

export interface TransactionEntry {
  /** the CloudEvents id of the event it was made from */
  eventId: string;
  userId: string;
  /** the order or trip */
  aggregateId: string;
  kind: TransactionKind;
  /** integer minor units, never negative: the kind says which way the money went */
  amount: number;
  currency: string;
  paymentIntentId?: string;
  chargeId?: string;
  refundId?: string;
  checkoutSessionId?: string;
  /** why a failed payment failed */
  failureReason?: string;
  occurredAt: Date;
}

const APPEND = `
  INSERT INTO transactions (event_id, user_id, aggregate_id, kind, amount, currency, stripe_payment_intent_id,
    stripe_charge_id, stripe_refund_id, stripe_checkout_session_id, failure_reason, occurred_at)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::text[], $11::text[], $12::timestamptz[])
  ON CONFLICT DO NOTHING`;

/**
 * Appends the entries in one statement. An entry whose event is already recorded, or a second
 * charge or refund of the same order or trip (announced again under another event id), is left
 * out: the user sees each movement of money once. Sent before the first await, like writePayments.
 */
export async function appendTransactions(db: Db, entries: readonly TransactionEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(APPEND, [
    entries.map((e) => e.eventId),
    entries.map((e) => e.userId),
    entries.map((e) => e.aggregateId),
    entries.map((e) => e.kind),
    entries.map((e) => e.amount),
    entries.map((e) => e.currency),
    entries.map((e) => e.paymentIntentId ?? null),
    entries.map((e) => e.chargeId ?? null),
    entries.map((e) => e.refundId ?? null),
    entries.map((e) => e.checkoutSessionId ?? null),
    entries.map((e) => e.failureReason ?? null),
    entries.map((e) => e.occurredAt.toISOString()),
  ]);
}

/** Per order or trip, the user of each of its charge and refund entries: what `dev` checks the history by. */
export async function chargeAndRefundUsers(
  db: Db,
  aggregateIds: readonly string[],
): Promise<Map<string, { charge: string[]; refund: string[] }>> {
  const { rows } = await db.query<{ aggregate_id: string; kind: TransactionKind; user_id: string }>(
    `SELECT aggregate_id, kind, user_id FROM transactions WHERE aggregate_id = ANY($1::text[]) AND kind IN ('charge', 'refund')`,
    [aggregateIds],
  );
  const byAggregate = new Map<string, { charge: string[]; refund: string[] }>();
  for (const row of rows) {
    const entry = byAggregate.get(row.aggregate_id) ?? { charge: [], refund: [] };
    entry[row.kind as 'charge' | 'refund'].push(row.user_id);
    byAggregate.set(row.aggregate_id, entry);
  }
  return byAggregate;
}
