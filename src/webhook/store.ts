import type pg from 'pg';
import { withTransactionClient } from '../db/connect.js';
import { enqueueMany } from '../outbox/enqueue.js';
import {
  decideWebhookEvent,
  OUTCOME_TOPICS,
  type PaymentChange,
  type WebhookOutcome,
  type WebhookResult,
} from '../payments/decisions/webhook-event.js';
import { ConcurrentPaymentWriteError } from '../payments/row.js';
import { findPaymentByIntent, lockPayment, writePayments } from '../payments/store.js';
import type { EventPlan, IgnoredOutcome, StripeEvent } from './mapping.js';

/** The CloudEvents source of what the receiver writes; `replay stripe-events` writes the same. */
export const WEBHOOK_EVENT_SOURCE = 'paymentsctl/webhook-serve';

/**
 * The durable write behind every 2xx: the Stripe event id (unique in webhook_events), the payments
 * row's move and the pipeline event announcing it (outbox) commit in ONE transaction. A second
 * delivery of the same event finds its id and changes nothing; a failure rolls everything back,
 * so Stripe's retry finds nothing half done.
 */

/** What the event did, as stored in webhook_events.outcome. */
export type StoredOutcome = WebhookOutcome | IgnoredOutcome | 'missing_metadata';

export type RecordResult = { duplicate: true } | ({ duplicate: false; outcome: StoredOutcome } & Omit<WebhookResult, 'outcome'>);

export interface RecordOptions {
  /** CloudEvents source of the events written */
  source: string;
  /** attempts when a concurrent writer created the same payments row first, or on a deadlock */
  maxAttempts?: number;
}

// Named: parsed once per connection (an insert has no plan that could go stale as tables grow).
const INSERT_EVENT = {
  name: 'paymentsctl-webhook-event',
  text: 'INSERT INTO webhook_events (stripe_event_id, type, outcome, payload) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (stripe_event_id) DO NOTHING',
} as const;
export const SET_OUTCOME = 'UPDATE webhook_events SET outcome = $2 WHERE stripe_event_id = $1';
export const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/** The outcome written with the event before the transaction knows better (saves a round trip when it is right). */
export function provisionalOutcome(plan: EventPlan): StoredOutcome {
  if (plan.action === 'ignore') return plan.outcome;
  if (plan.action === 'missing_metadata') return 'missing_metadata';
  return `published:${OUTCOME_TOPICS[plan.change.next]}`;
}

export async function recordWebhookEvent(
  pool: pg.Pool,
  event: StripeEvent,
  payload: string,
  plan: EventPlan,
  options: RecordOptions,
): Promise<RecordResult> {
  if (plan.action !== 'apply') {
    // One statement: nothing else to commit with it.
    const inserted = await pool.query({ ...INSERT_EVENT, values: [event.id, event.type, provisionalOutcome(plan), payload] });
    return inserted.rowCount === 0 ? { duplicate: true } : { duplicate: false, outcome: provisionalOutcome(plan) };
  }
  const maxAttempts = options.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyInTransaction(pool, event, payload, plan.change, options);
    } catch (error) {
      const retry = error instanceof ConcurrentPaymentWriteError || RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? '');
      if (!retry || attempt >= maxAttempts) throw error;
    }
  }
}

/**
 * One transaction in three round trips: the connection is pipelined (queries are sent without
 * waiting for the previous answer), so each step sends everything it already knows at once.
 *   1. BEGIN, claim the event id, lock the payments row;
 *   2. the row's move, the outbox events and the outcome;
 *   3. COMMIT — on its own, after step 2 is known to have fully succeeded: a COMMIT sent behind a
 *      write that did nothing (a row created concurrently) would commit the rest without it.
 * A step that errors aborts the transaction, so whatever was sent behind it cannot commit.
 */
async function applyInTransaction(
  pool: pg.Pool,
  event: StripeEvent,
  payload: string,
  change: PaymentChange,
  options: RecordOptions,
): Promise<RecordResult> {
  return withTransactionClient(pool, async (client) => {
    const provisional = provisionalOutcome({ action: 'apply', change });
    const [, inserted, row] = await Promise.all(
      oneWrite(client, () => [
        client.query('BEGIN'),
        // A concurrent delivery of the same event waits here until the first commits, then sees its row.
        client.query({ ...INSERT_EVENT, values: [event.id, event.type, provisional, payload] }),
        change.aggregateId !== undefined
          ? lockPayment(client, change.aggregateId)
          : change.paymentIntentId !== undefined
            ? findPaymentByIntent(client, change.paymentIntentId, { lock: true })
            : undefined,
      ]),
    );
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK');
      return { duplicate: true };
    }
    const decision = decideWebhookEvent(event.id, change, row, options.source);
    const events = decision.events ?? [];
    // Nothing announced: a COMMIT behind the outcome (and an id fill-in that may be lost) is safe.
    const announces = events.length > 0;
    const steps = oneWrite(client, () => {
      const sent: Promise<unknown>[] = [];
      if (decision.result.outcome !== provisional) sent.push(client.query(SET_OUTCOME, [event.id, decision.result.outcome]));
      if (decision.write) sent.push(writePayments(client, [{ write: decision.write, existed: row !== undefined }]));
      if (announces) sent.push(enqueueMany(client, events));
      else sent.push(client.query('COMMIT'));
      return sent;
    });
    await Promise.all(steps);
    if (announces) await client.query('COMMIT');
    return { duplicate: false, ...decision.result };
  });
}

/**
 * Runs `send`, which issues pipelined queries, so that they leave in one TCP write: pg writes each
 * query on its own, and on loopback every write costs the receiver's wake-up too. Only buffering
 * changes; order and content are what `send` issued.
 */
export function oneWrite<T>(client: pg.PoolClient, send: () => T): T {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  stream?.cork?.();
  try {
    return send();
  } finally {
    stream?.uncork?.();
  }
}
