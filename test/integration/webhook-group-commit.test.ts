import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWebhookService } from '../../src/webhook/service.js';
import { waitFor } from '../helpers/wait.js';
import { checkoutSession, deliver, post, stripeEvent, stripeSignature } from '../helpers/webhook.js';
import { startWebhookFixture, type WebhookFixture } from '../helpers/webhook-service.js';

const SECRET = 'whsec_group_commit_suite_secret';

describe('webhook-serve group commit: events that arrive together commit together, and fail alone', () => {
  let pool: pg.Pool;
  let fixture: WebhookFixture;
  let service: RunningWebhookService;
  let hook: string;
  let n = 0;

  beforeAll(async () => {
    // Two connections: one transaction of events in flight at a time, so arrivals queue behind it.
    fixture = await startWebhookFixture({ secrets: [SECRET], poolSize: 2 });
    ({ pool, service, hook } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  const trip = () => `trip-gc-${++n}`;
  const paid = (tripId: string, extra: Record<string, string> = {}) =>
    stripeEvent('checkout.session.completed', checkoutSession({ metadata: { trip_id: tripId, user_id: 'u', driver_id: 'd', ...extra } }));

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  }

  /** Runs `send` while the one transaction lane is held up by a locked payments row, then lets it go. */
  async function behindABlockedTransaction(send: () => Promise<{ status: number }>[]) {
    const blockedTrip = trip();
    await pool.query(
      `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key) VALUES ($1, 'checkout_session', 'pending', 100, 'usd', $2)`,
      [blockedTrip, `cs:${blockedTrip}`],
    );
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM payments WHERE aggregate_id = $1 FOR UPDATE', [blockedTrip]);
    const verifiedBefore = await metric('paymentsctl_webhook_verified_total');
    const blocked = deliver(hook, paid(blockedTrip), SECRET);
    let replies: Promise<{ status: number }>[];
    try {
      await waitFor(
        'the first delivery to wait on the row',
        async () => (await metric('paymentsctl_webhook_verified_total')) === verifiedBefore + 1,
      );
      replies = send();
      await waitFor(
        'the others to queue',
        async () => (await metric('paymentsctl_webhook_verified_total')) === verifiedBefore + 1 + replies.length,
      );
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    expect((await blocked).status).toBe(200);
    return Promise.all(replies);
  }

  it('deliveries queued behind a transaction are recorded in one transaction, each with its own row, event and answer', async () => {
    const trips = Array.from({ length: 6 }, trip);
    const batchesBefore = await metric('paymentsctl_webhook_batch_events_count');
    const eventsBefore = await metric('paymentsctl_webhook_batch_events_sum');
    const replies = await behindABlockedTransaction(() => trips.map((t) => deliver(hook, paid(t), SECRET)));
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200));
    // One transaction for the blocked delivery, one for the six behind it.
    expect((await metric('paymentsctl_webhook_batch_events_count')) - batchesBefore).toBe(2);
    expect((await metric('paymentsctl_webhook_batch_events_sum')) - eventsBefore).toBe(7);
    const { rows } = await pool.query('SELECT key FROM outbox WHERE key = ANY($1) ORDER BY key', [trips]);
    expect(rows.map((r) => r.key)).toEqual([...trips].sort());
    const { rows: payments } = await pool.query(
      `SELECT count(*)::int AS n FROM payments WHERE aggregate_id = ANY($1) AND status = 'succeeded'`,
      [trips],
    );
    expect(payments[0].n).toBe(6);
  });

  it('the same event twice, and two events of one payment, in the queue: still one pipeline event each payment', async () => {
    const t = trip();
    const event = paid(t);
    const intent = stripeEvent('payment_intent.succeeded', {
      id: (event.data as { object: { payment_intent: string } }).object.payment_intent,
      object: 'payment_intent',
      amount: 2500,
      amount_received: 2500,
      currency: 'usd',
      metadata: { trip_id: t, user_id: 'u', driver_id: 'd' },
      status: 'succeeded',
    });
    const replies = await behindABlockedTransaction(() => [
      deliver(hook, event, SECRET),
      deliver(hook, event, SECRET),
      deliver(hook, intent, SECRET),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await pool.query('SELECT count(*)::int AS n FROM outbox WHERE key = $1', [t])).rows[0].n).toBe(1);
    expect(
      (await pool.query('SELECT count(*)::int AS n FROM webhook_events WHERE stripe_event_id = ANY($1)', [[event.id, intent.id]])).rows[0]
        .n,
    ).toBe(2);
  });

  it('one event that cannot be recorded fails alone (5xx, Stripe retries it); the others in its transaction are recorded', async () => {
    const good = Array.from({ length: 4 }, trip);
    const poisonTrip = trip();
    // Valid JSON, validly signed, but PostgreSQL's jsonb refuses a NUL character: it can never be stored.
    const poison = JSON.stringify(paid(poisonTrip, { note: '\u0000' }));
    const errorsBefore = await metric('paymentsctl_webhook_store_errors_total');
    const replies = await behindABlockedTransaction(() => [
      ...good.slice(0, 2).map((t) => deliver(hook, paid(t), SECRET)),
      post(hook, poison, { 'stripe-signature': stripeSignature(poison, SECRET) }),
      ...good.slice(2).map((t) => deliver(hook, paid(t), SECRET)),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 500, 200, 200]);
    expect((await metric('paymentsctl_webhook_store_errors_total')) - errorsBefore).toBe(1);
    const { rows } = await pool.query('SELECT key FROM outbox WHERE key = ANY($1) ORDER BY key', [[...good, poisonTrip]]);
    expect(rows.map((r) => r.key)).toEqual([...good].sort());
    expect((await pool.query('SELECT count(*)::int AS n FROM payments WHERE aggregate_id = $1', [poisonTrip])).rows[0].n).toBe(0);
  });
});
