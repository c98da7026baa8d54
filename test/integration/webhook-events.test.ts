import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWebhookService } from '../../src/webhook/service.js';
import { charge, checkoutSession, deliver, paymentIntent, stripeEvent } from '../helpers/webhook.js';
import { startWebhookFixture, type WebhookFixture } from '../helpers/webhook-service.js';

const SECRET = 'whsec_events_suite_secret_value';
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

describe('webhook-serve: verified events → payments row + pipeline event, in one transaction', () => {
  let pool: pg.Pool;
  let fixture: WebhookFixture;
  let service: RunningWebhookService;
  let hook: string;

  beforeAll(async () => {
    fixture = await startWebhookFixture({ secrets: [SECRET] });
    ({ pool, service, hook } = fixture);
  });
  afterAll(async () => {
    await fixture?.close();
  });

  async function send(type: string, object: Record<string, unknown>): Promise<{ status: number; outcome: unknown; id: string }> {
    const event = stripeEvent(type, object);
    const reply = await deliver(hook, event, SECRET);
    return { status: reply.status, outcome: reply.body.outcome, id: event.id as string };
  }

  async function events(
    key: string,
  ): Promise<{ topic: string; type: string; payload: Record<string, unknown>; headers: Record<string, string> }[]> {
    const { rows } = await pool.query('SELECT topic, type, payload, headers FROM outbox WHERE key = $1 ORDER BY id', [key]);
    return rows;
  }

  async function payment(aggregateId: string) {
    const { rows } = await pool.query(
      'SELECT kind, status, amount::int, currency, idempotency_key, stripe_payment_intent_id, stripe_checkout_session_id, failure_code, failure_message, metadata FROM payments WHERE aggregate_id = $1',
      [aggregateId],
    );
    return rows[0];
  }

  async function stored(stripeEventId: string): Promise<string | undefined> {
    const { rows } = await pool.query('SELECT outcome FROM webhook_events WHERE stripe_event_id = $1', [stripeEventId]);
    return rows[0]?.outcome;
  }

  /** A row as the worker writes it when it creates a Checkout Session for a trip. */
  async function workerCheckoutRow(tripId: string, sessionId: string, status = 'pending') {
    await pool.query(
      `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, stripe_checkout_session_id, metadata)
       VALUES ($1, 'checkout_session', $2, 2500, 'usd', $3, $4, $5)`,
      [
        tripId,
        status,
        `cs:${tripId}`,
        sessionId,
        { trip_id: tripId, user_id: 'rider-w', driver_id: 'driver-w', checkout_url: 'http://pay/x' },
      ],
    );
  }

  it('a Checkout Session paid, then its PaymentIntent succeeded: the row moves once, exactly one payments.completed with the trip rehydrated', async () => {
    const tripId = unique('trip');
    const ids = { trip_id: tripId, user_id: 'rider-1', driver_id: 'driver-1' };
    const session = checkoutSession({ metadata: ids, amount: 2500 });
    const first = await send('checkout.session.completed', session);
    const second = await send(
      'payment_intent.succeeded',
      paymentIntent({ id: session.payment_intent as string, metadata: ids, amount: 2500 }),
    );
    expect(first).toMatchObject({ status: 200, outcome: 'published:payments.completed' });
    expect(second).toMatchObject({ status: 200, outcome: 'duplicate_transition' });
    expect(await stored(first.id)).toBe('published:payments.completed');
    expect(await stored(second.id)).toBe('duplicate_transition');

    const published = await events(tripId);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      topic: 'payments.completed',
      type: 'payments.completed',
      payload: {
        ...ids,
        session_id: session.id,
        payment_intent_id: session.payment_intent,
        amount: 2500,
        currency: 'usd',
        status: 'succeeded',
      },
      headers: { stripe_event_id: first.id, ce_source: 'paymentsctl/webhook-serve' },
    });
    expect(await payment(tripId)).toMatchObject({
      kind: 'checkout_session',
      status: 'succeeded',
      amount: 2500,
      idempotency_key: `cs:${tripId}`,
      stripe_payment_intent_id: session.payment_intent,
      stripe_checkout_session_id: session.id,
      metadata: ids,
    });
  });

  it('the same two events the other way round (PaymentIntent first) still make exactly one payments.completed', async () => {
    const tripId = unique('trip');
    const ids = { trip_id: tripId, user_id: 'rider-2', driver_id: 'driver-2' };
    const session = checkoutSession({ metadata: ids });
    expect((await send('payment_intent.succeeded', paymentIntent({ id: session.payment_intent as string, metadata: ids }))).outcome).toBe(
      'published:payments.completed',
    );
    expect((await send('checkout.session.completed', session)).outcome).toBe('duplicate_transition');
    const published = await events(tripId);
    expect(published.map((e) => e.topic)).toEqual(['payments.completed']);
    expect(published[0]!.payload).toMatchObject(ids);
    // The later event moved nothing, but the row learnt the session it belongs to.
    expect(await payment(tripId)).toMatchObject({
      status: 'succeeded',
      stripe_payment_intent_id: session.payment_intent,
      stripe_checkout_session_id: session.id,
    });
  });

  it('a session the worker created: the pending row moves to succeeded and the event carries what the row knows', async () => {
    const tripId = unique('trip');
    const session = checkoutSession({ metadata: { trip_id: tripId, user_id: 'rider-w', driver_id: 'driver-w' } });
    await workerCheckoutRow(tripId, session.id);
    expect((await send('checkout.session.completed', session)).outcome).toBe('published:payments.completed');
    expect(await payment(tripId)).toMatchObject({
      status: 'succeeded',
      stripe_payment_intent_id: session.payment_intent,
      stripe_checkout_session_id: session.id,
    });
    // The row's own metadata (the checkout URL) is kept; nothing of it leaks into the event.
    expect((await payment(tripId)).metadata).toMatchObject({ checkout_url: 'http://pay/x' });
    expect((await events(tripId))[0]!.payload).not.toHaveProperty('checkout_url');
  });

  it('the worker already recorded the outcome: the webhook answers 2xx and adds nothing', async () => {
    const orderId = unique('order');
    const intentId = `pi_${orderId}`;
    await pool.query(
      `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id) VALUES ($1, 'payment_intent', 'succeeded', 1999, 'usd', $2, $3)`,
      [orderId, `pi:${orderId}`, intentId],
    );
    const reply = await send('payment_intent.succeeded', paymentIntent({ id: intentId, metadata: { order_id: orderId } }));
    expect(reply).toMatchObject({ status: 200, outcome: 'duplicate_transition' });
    expect(await events(orderId)).toEqual([]);
  });

  it('late and out-of-order news never moves a terminal state backwards', async () => {
    const orderId = unique('order');
    const intent = paymentIntent({ metadata: { order_id: orderId } });
    expect((await send('payment_intent.succeeded', intent)).outcome).toBe('published:payments.completed');
    const late = await send('payment_intent.payment_failed', {
      ...intent,
      status: 'requires_payment_method',
      last_payment_error: { code: 'card_declined', message: 'declined' },
    });
    expect(late).toMatchObject({ status: 200, outcome: 'stale' });
    expect((await payment(orderId)).status).toBe('succeeded');

    const tripId = unique('trip');
    const ids = { trip_id: tripId, user_id: 'r', driver_id: 'd' };
    expect(
      (
        await send(
          'checkout.session.expired',
          checkoutSession({ metadata: ids, paymentIntent: null, paymentStatus: 'unpaid', status: 'expired' }),
        )
      ).outcome,
    ).toBe('published:payments.failed');
    expect((await send('checkout.session.async_payment_succeeded', checkoutSession({ metadata: ids }))).outcome).toBe('stale');
    expect((await payment(tripId)).status).toBe('failed');
    expect((await events(orderId)).map((e) => e.topic)).toEqual(['payments.completed']);
    expect((await events(tripId)).map((e) => e.topic)).toEqual(['payments.failed']);
  });

  it('payment_intent.payment_failed → payments.failed with the decline, recorded on the row', async () => {
    const orderId = unique('order');
    const intent = paymentIntent({
      metadata: { order_id: orderId },
      status: 'requires_payment_method',
      lastPaymentError: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    });
    expect((await send('payment_intent.payment_failed', intent)).outcome).toBe('published:payments.failed');
    expect((await events(orderId))[0]!.payload).toMatchObject({
      order_id: orderId,
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      reason: 'Your card has insufficient funds.',
      amount: 1999,
    });
    expect(await payment(orderId)).toMatchObject({
      kind: 'payment_intent',
      status: 'failed',
      idempotency_key: `pi:${orderId}`,
      failure_code: 'insufficient_funds',
      failure_message: 'Your card has insufficient funds.',
    });
  });

  it("a declined attempt inside a worker's Checkout Session is not final: the row keeps waiting and nothing is announced", async () => {
    const tripId = unique('trip');
    const session = checkoutSession({ metadata: { trip_id: tripId, user_id: 'rider-w', driver_id: 'driver-w' } });
    await workerCheckoutRow(tripId, session.id);
    const intentId = `pi_attempt_${n}`;
    await pool.query('UPDATE payments SET stripe_payment_intent_id = $2 WHERE aggregate_id = $1', [tripId, intentId]);
    // A PaymentIntent whose metadata was lost: found by its id, and its row is a Checkout Session.
    const reply = await send('payment_intent.payment_failed', paymentIntent({ id: intentId, status: 'requires_payment_method' }));
    expect(reply.outcome).toBe('checkout_attempt_failed');
    expect((await payment(tripId)).status).toBe('pending');
    expect(await events(tripId)).toEqual([]);
  });

  it('charge.refunded moves succeeded → refunded once; a second refund event and a partial refund change nothing', async () => {
    const orderId = unique('order');
    const intent = paymentIntent({ metadata: { order_id: orderId }, amount: 1000 });
    await send('payment_intent.succeeded', intent);
    const full = charge({ paymentIntent: intent.id, metadata: { order_id: orderId }, amount: 1000 });
    expect((await send('charge.refunded', full)).outcome).toBe('published:payments.refunded');
    expect((await send('charge.refunded', full)).outcome).toBe('duplicate_transition');
    expect(
      (await send('charge.refunded', charge({ paymentIntent: intent.id, metadata: { order_id: orderId }, amount: 1000, refunded: 300 })))
        .outcome,
    ).toBe('partial_refund');
    expect((await payment(orderId)).status).toBe('refunded');
    const published = await events(orderId);
    expect(published.map((e) => e.topic)).toEqual(['payments.completed', 'payments.refunded']);
    expect(published[1]!.payload).toMatchObject({
      order_id: orderId,
      payment_intent_id: intent.id,
      charge_id: full.id,
      amount: 1000,
      currency: 'usd',
    });
  });

  it('a charge refunded without metadata is matched to its payment by the PaymentIntent id', async () => {
    const orderId = unique('order');
    const intent = paymentIntent({ metadata: { order_id: orderId } });
    await send('payment_intent.succeeded', intent);
    expect((await send('charge.refunded', charge({ paymentIntent: intent.id }))).outcome).toBe('published:payments.refunded');
    expect((await events(orderId)).map((e) => e.payload.order_id)).toEqual([orderId, orderId]);
  });

  it('a payment cancelled before it went through: succeeded is recorded, and orders.cancelled asks the saga to refund it', async () => {
    const orderId = unique('order');
    await pool.query(`INSERT INTO payments (aggregate_id, kind, status) VALUES ($1, 'payment_intent', 'cancelled')`, [orderId]);
    const intent = paymentIntent({ metadata: { order_id: orderId }, amount: 1500 });
    expect((await send('payment_intent.succeeded', intent)).outcome).toBe('published:payments.completed');
    expect(await payment(orderId)).toMatchObject({
      status: 'succeeded',
      amount: 1500,
      currency: 'usd',
      idempotency_key: `pi:${orderId}`,
      stripe_payment_intent_id: intent.id,
    });
    // Two topics: no order between them (each keeps its own per-key order).
    const published = await events(orderId);
    expect(published.map((e) => e.topic).sort()).toEqual(['orders.cancelled', 'payments.completed']);
    expect(published.find((e) => e.topic === 'orders.cancelled')!.payload).toEqual({
      order_id: orderId,
      reason: 'cancelled_before_payment',
    });
  });

  it('missing metadata: 2xx, recorded as missing_metadata, no row, no event, a metric per missing field', async () => {
    const tripId = unique('trip');
    const reply = await send('checkout.session.completed', checkoutSession({ metadata: { trip_id: tripId, driver_id: 'd' } }));
    expect(reply).toMatchObject({ status: 200, outcome: 'missing_metadata' });
    expect(await stored(reply.id)).toBe('missing_metadata');
    expect(await payment(tripId)).toBeUndefined();
    expect(await events(tripId)).toEqual([]);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/paymentsctl_webhook_missing_metadata_total\{field="user_id"[^}]*\} [1-9]/);
    expect(metrics).not.toMatch(/paymentsctl_webhook_missing_metadata_total\{field="driver_id"/);
  });

  it('unknown types and payments that are not ours: 2xx, counted, nothing else', async () => {
    const unknownType = await send('customer.subscription.created', { id: 'sub_1', object: 'subscription' });
    expect(unknownType).toMatchObject({ status: 200, outcome: 'ignored_type' });
    expect(await stored(unknownType.id)).toBe('ignored_type');
    const foreign = await send('payment_intent.succeeded', paymentIntent({ id: 'pi_not_ours' }));
    expect(foreign).toMatchObject({ status: 200, outcome: 'unknown_payment' });
    expect((await pool.query(`SELECT count(*)::int AS n FROM payments WHERE stripe_payment_intent_id = 'pi_not_ours'`)).rows[0].n).toBe(0);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/paymentsctl_webhook_events_total\{outcome="ignored_type"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/paymentsctl_webhook_events_total\{outcome="unknown_payment"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/paymentsctl_webhook_request_duration_seconds_count\{[^}]*status="200"[^}]*\} [1-9]/);
  });

  it('both events of many new payments racing each other: every payment ends with exactly one payments.completed', async () => {
    const trips = Array.from({ length: 20 }, () => unique('race'));
    await Promise.all(
      trips.flatMap((tripId) => {
        const ids = { trip_id: tripId, user_id: 'r', driver_id: 'd' };
        const session = checkoutSession({ metadata: ids });
        const intent = paymentIntent({ id: session.payment_intent as string, metadata: ids });
        return [
          send('checkout.session.completed', session),
          send('payment_intent.succeeded', intent),
          send('payment_intent.succeeded', intent),
        ];
      }),
    );
    const { rows } = await pool.query(`SELECT key, count(*)::int AS n FROM outbox WHERE key = ANY($1) GROUP BY key`, [trips]);
    expect(rows.sort((a, b) => a.key.localeCompare(b.key))).toEqual([...trips].sort().map((key) => ({ key, n: 1 })));
  });
});
