import type pg from 'pg';
import { aggregateOf, type AggregateFacts, type IntentFacts, type SessionFacts } from '../../payments/decisions/reconcile.js';
import type { PaymentRow } from '../../payments/row.js';
import { COLUMNS, fromDb, type DbRow } from '../../payments/store.js';
import type { StripeReconcileReader } from '../../stripe/listing.js';
import { intentFacts, sessionFacts } from './facts.js';

/**
 * One day's facts: Stripe's PaymentIntents (latest Charge expanded), Checkout Sessions and Refunds
 * created that day, the payments rows created that day or named by those objects, and — for a row
 * whose Stripe object was created on another day, or never — that object fetched by its id.
 */

export interface DayCounts {
  paymentIntents: number;
  checkoutSessions: number;
  refunds: number;
  /** objects fetched one by one (their list day was another) */
  retrieved: number;
  rows: number;
}

export interface CollectOptions {
  /** only aggregates this accepts are compared (dev: the run's own orders) */
  accept?: (aggregateId: string) => boolean;
  /** after every page of every list: how far the day is */
  onItem?: (counts: DayCounts) => void;
}

type LocalRow = PaymentRow & { createdAt: number; updatedAt: number };

export async function collectDay(
  db: pg.Pool,
  reader: StripeReconcileReader,
  day: { from: Date; to: Date },
  options: CollectOptions = {},
): Promise<{ facts: AggregateFacts[]; counts: DayCounts }> {
  const range = { from: Math.floor(day.from.getTime() / 1000), to: Math.ceil(day.to.getTime() / 1000) };
  const counts: DayCounts = { paymentIntents: 0, checkoutSessions: 0, refunds: 0, retrieved: 0, rows: 0 };
  const tick = () => options.onItem?.(counts);

  const refundIds = new Map<string, string[]>();
  for await (const refund of reader.refunds(range)) {
    counts.refunds++;
    tick();
    const intent = typeof refund.payment_intent === 'string' ? refund.payment_intent : refund.payment_intent?.id;
    if (intent && (refund.status === 'succeeded' || refund.status === 'pending'))
      refundIds.set(intent, [...(refundIds.get(intent) ?? []), refund.id]);
  }
  const intents = new Map<string, IntentFacts>();
  for await (const intent of reader.paymentIntents(range)) {
    counts.paymentIntents++;
    tick();
    intents.set(intent.id, intentFacts(intent, refundIds.get(intent.id)));
  }
  const sessions = new Map<string, SessionFacts>();
  for await (const session of reader.checkoutSessions(range)) {
    counts.checkoutSessions++;
    tick();
    sessions.set(session.id, sessionFacts(session));
  }
  const fetchIntent = async (id: string) => {
    if (intents.has(id)) return;
    counts.retrieved++;
    tick();
    const intent = await reader.paymentIntent(id);
    if (intent) intents.set(id, intentFacts(intent, refundIds.get(id)));
  };
  // A refund made today of an older payment, and a session paid today whose intent is listed on its own day.
  for (const id of refundIds.keys()) await fetchIntent(id);
  for (const session of sessions.values()) if (session.paymentIntentId) await fetchIntent(session.paymentIntentId);

  const groups = new Map<string, { intents: IntentFacts[]; sessions: SessionFacts[] }>();
  const group = (aggregateId: string) => {
    let found = groups.get(aggregateId);
    if (!found) groups.set(aggregateId, (found = { intents: [], sessions: [] }));
    return found;
  };
  for (const intent of intents.values()) {
    const aggregateId = aggregateOf(intent.ids);
    if (aggregateId !== undefined) group(aggregateId).intents.push(intent);
  }
  for (const session of sessions.values()) {
    const aggregateId = aggregateOf(session.ids);
    if (aggregateId !== undefined) group(aggregateId).sessions.push(session);
  }

  const rows = await localRows(db, range, [...groups.keys()]);
  counts.rows = rows.size;
  for (const row of rows.values()) {
    const found = group(row.aggregateId);
    // What the row names but the day's lists did not bring: made on another day, or never.
    if (row.paymentIntentId && !found.intents.some((intent) => intent.id === row.paymentIntentId)) {
      counts.retrieved++;
      const intent = await reader.paymentIntent(row.paymentIntentId);
      if (intent) found.intents.push(intentFacts(intent, refundIds.get(intent.id)));
    }
    if (row.checkoutSessionId && !found.sessions.some((session) => session.id === row.checkoutSessionId)) {
      counts.retrieved++;
      const session = await reader.checkoutSession(row.checkoutSessionId);
      if (session) {
        const facts = sessionFacts(session);
        found.sessions.push(facts);
        if (facts.paymentIntentId && !found.intents.some((intent) => intent.id === facts.paymentIntentId)) {
          const intent = await reader.paymentIntent(facts.paymentIntentId);
          if (intent) found.intents.push(intentFacts(intent, refundIds.get(intent.id)));
        }
      }
    }
  }
  tick();

  const accept = options.accept ?? (() => true);
  const facts: AggregateFacts[] = [];
  for (const [aggregateId, objects] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    if (!accept(aggregateId)) continue;
    const row = rows.get(aggregateId);
    facts.push({ aggregateId, ...(row ? { row } : {}), intents: objects.intents, sessions: objects.sessions });
  }
  return { facts, counts };
}

/** Rows created in the range, and the rows of the aggregates Stripe's objects name. */
async function localRows(db: pg.Pool, range: { from: number; to: number }, aggregateIds: string[]): Promise<Map<string, LocalRow>> {
  const { rows } = await db.query<DbRow & { created_at: Date; updated_at: Date }>(
    `SELECT ${COLUMNS}, created_at, updated_at FROM payments
      WHERE (created_at >= to_timestamp($1) AND created_at < to_timestamp($2)) OR aggregate_id = ANY($3::text[])`,
    [range.from, range.to, aggregateIds],
  );
  return new Map(
    rows.map((row) => [row.aggregate_id, { ...fromDb(row), createdAt: row.created_at.getTime(), updatedAt: row.updated_at.getTime() }]),
  );
}
