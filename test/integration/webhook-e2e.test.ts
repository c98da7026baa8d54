import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { startStripeEmulator, type DeliveryRecord, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { StripeGateway } from '../../src/stripe/gateway.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { consumeUntil, createTopics, uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { waitFor } from '../helpers/wait.js';
import {
  checkoutSession,
  completedCheckout,
  deliver,
  stripeEvent,
  startWebhookServe,
  type WebhookServeProcess,
} from '../helpers/webhook.js';

const SECRET = 'whsec_e2e_suite_signing_secret_0001';
const TOPICS = ['payments.completed', 'payments.failed', 'payments.refunded', 'orders.cancelled'];

describe('webhook-serve end to end: the emulator delivers real signed webhooks, duplicated and out of order', () => {
  const { kafkaBrokers } = inject('stack');
  let db: TestDatabase;
  let pool: pg.Pool;
  let prefix: string;
  let serve: WebhookServeProcess;
  let publisher: PublisherProcess;
  let emulator: RunningEmulator;
  let gateway: StripeGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url);
    prefix = uniquePrefix();
    await createTopics(
      kafkaBrokers,
      TOPICS.map((topic) => prefix + topic),
    );
    serve = await startWebhookServe({ DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, STRIPE_WEBHOOK_SECRET: SECRET });
    emulator = await startStripeEmulator({
      port: 0,
      seed: 42,
      webhookUrls: [`${serve.url}/webhook/stripe`],
      webhookSecret: SECRET,
      // Every delivery sent twice, and deliveries shuffled in groups.
      faults: { duplicateRate: 1, reorder: true, reorderWindow: 6 },
      webhookRetry: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 10 },
      log: createLogger({ level: 'silent' }),
    });
    gateway = new StripeGateway(createStripeClient({ apiKey: 'sk_test_webhook_e2e', apiBase: emulator.url, maxNetworkRetries: 0 }));
    publisher = await startPublisher({ DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: prefix });
  });
  afterAll(async () => {
    await emulator?.close();
    await publisher?.kill('SIGTERM');
    if (serve && serve.process.exitCode === null) await serve.stop('SIGKILL');
    await pool?.end();
    await db?.drop();
  });

  async function deliveries(): Promise<DeliveryRecord[]> {
    return ((await (await fetch(`${emulator.url}/_emulator/webhooks`)).json()) as { deliveries: DeliveryRecord[] }).deliveries;
  }

  async function received(): Promise<number> {
    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    return Number(/^paymentsctl_webhook_received_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  }

  // The customer, on the hosted page.
  const checkout = (tripId: string, outcome: 'paid' | 'async_succeeded' | 'async_failed') =>
    completedCheckout(gateway, emulator.url, tripId, outcome);

  it('each Checkout Session ends as exactly one outcome event on Kafka, carrying trip_id, user_id and driver_id', async () => {
    const trips = { paid: 'trip-e2e-paid', later: 'trip-e2e-async-ok', failed: 'trip-e2e-async-failed' };
    const paid = await checkout(trips.paid, 'paid');
    await checkout(trips.later, 'async_succeeded');
    await checkout(trips.failed, 'async_failed');

    // Every delivery has been answered, and every copy of it has reached the receiver.
    await waitFor(
      'every webhook delivered, duplicates included',
      async () => {
        const all = await deliveries();
        const sent = all.reduce((sum, d) => sum + d.attempts + d.duplicates, 0);
        return all.length > 0 && all.every((d) => d.status === 'delivered' && d.duplicates === 1) && (await received()) === sent;
      },
      60_000,
    );
    const all = await deliveries();
    expect(all.every((d) => d.lastStatusCode === 200)).toBe(true);
    const types = new Set(all.map((d) => d.type));
    for (const type of [
      'checkout.session.completed',
      'payment_intent.succeeded',
      'checkout.session.async_payment_succeeded',
      'checkout.session.async_payment_failed',
      'payment_intent.payment_failed',
    ]) {
      expect(types, type).toContain(type);
    }
    // The emulator's fault really reordered: some delivery arrived before one created earlier.
    const { rows: arrival } = await pool.query<{ stripe_event_id: string }>(
      'SELECT stripe_event_id FROM webhook_events ORDER BY received_at, stripe_event_id',
    );
    expect(arrival.map((r) => r.stripe_event_id)).not.toEqual(all.map((d) => d.event));

    // Everything recorded has been published; read each topic up to what the outbox holds for it.
    await waitFor(
      'the outbox drained',
      async () => (await pool.query('SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1')).rowCount === 0,
      60_000,
    );
    const counts = new Map(
      (await pool.query<{ topic: string; n: number }>('SELECT topic, count(*)::int AS n FROM outbox GROUP BY topic')).rows.map((r) => [
        r.topic,
        r.n,
      ]),
    );
    expect(Object.fromEntries(counts)).toEqual({ 'payments.completed': 2, 'payments.failed': 1 });
    const completed = await consumeUntil(kafkaBrokers, `${prefix}payments.completed`, (m) => m.length >= 2, 60_000);
    const failed = await consumeUntil(kafkaBrokers, `${prefix}payments.failed`, (m) => m.length >= 1, 60_000);

    const forTrip = (tripId: string) => completed.filter((m) => m.key === tripId);
    expect(forTrip(trips.paid)).toHaveLength(1);
    expect(forTrip(trips.later)).toHaveLength(1);
    expect(completed.filter((m) => m.key === trips.failed)).toHaveLength(0);
    const event = forTrip(trips.paid)[0]!;
    expect(event.headers).toMatchObject({ ce_type: 'payments.completed', ce_source: 'paymentsctl/webhook-serve' });
    expect(JSON.parse(event.value)).toMatchObject({
      trip_id: trips.paid,
      user_id: `rider-of-${trips.paid}`,
      driver_id: `driver-of-${trips.paid}`,
      amount: 2500,
      currency: 'usd',
      status: 'succeeded',
    });
    expect(JSON.parse(event.value).payment_intent_id).toMatch(/^pi_/);
    expect(JSON.parse(forTrip(trips.later)[0]!.value)).toMatchObject({
      trip_id: trips.later,
      user_id: `rider-of-${trips.later}`,
      driver_id: `driver-of-${trips.later}`,
    });
    expect(failed.map((m) => m.key)).toEqual([trips.failed]);
    expect(JSON.parse(failed[0]!.value)).toMatchObject({
      trip_id: trips.failed,
      user_id: `rider-of-${trips.failed}`,
      driver_id: `driver-of-${trips.failed}`,
      reason: 'checkout_session_async_payment_failed',
    });

    const { rows } = await pool.query('SELECT aggregate_id, status, stripe_checkout_session_id FROM payments ORDER BY aggregate_id');
    expect(rows).toEqual(
      [
        { aggregate_id: trips.paid, status: 'succeeded', stripe_checkout_session_id: paid.sessionId },
        { aggregate_id: trips.later, status: 'succeeded', stripe_checkout_session_id: expect.stringMatching(/^cs_/) },
        { aggregate_id: trips.failed, status: 'failed', stripe_checkout_session_id: expect.stringMatching(/^cs_/) },
      ].sort((a, b) => a.aggregate_id.localeCompare(b.aggregate_id)),
    );
    // The receiver saw every copy and kept one of each.
    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    expect(Number(/^paymentsctl_webhook_duplicates_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1])).toBe(all.length);
    expect(serve.output()).not.toContain(SECRET);
  });

  it('SIGTERM lets a request in flight finish and commit, then exits 0', async () => {
    const tripId = 'trip-e2e-shutdown';
    await pool.query(
      `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, metadata) VALUES ($1, 'checkout_session', 'pending', 900, 'usd', $2, $3)`,
      [tripId, `cs:${tripId}`, { trip_id: tripId, user_id: 'u', driver_id: 'd' }],
    );
    // Hold the row so the delivery waits inside its transaction.
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM payments WHERE aggregate_id = $1 FOR UPDATE', [tripId]);
    const event = stripeEvent(
      'checkout.session.completed',
      checkoutSession({ metadata: { trip_id: tripId, user_id: 'u', driver_id: 'd' } }),
    );
    const reply = deliver(`${serve.url}/webhook/stripe`, event, SECRET);
    try {
      await waitFor('the delivery to wait on the row lock', async () => {
        const { rowCount } = await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'paymentsctl-webhook-serve' AND wait_event_type = 'Lock'`,
          [db.name],
        );
        return (rowCount ?? 0) > 0;
      });
      serve.process.kill('SIGTERM');
      // Shutting down, yet still waiting for its request: the process must not have gone.
      await waitFor('shutdown to begin', () => serve.output().includes('shutting down'));
      expect(serve.process.exitCode).toBeNull();
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    expect((await reply).status).toBe(200);
    const result = await serve.process;
    expect(result.exitCode).toBe(0);
    expect((await pool.query('SELECT status FROM payments WHERE aggregate_id = $1', [tripId])).rows).toEqual([{ status: 'succeeded' }]);
    expect((await pool.query('SELECT count(*)::int AS n FROM outbox WHERE key = $1', [tripId])).rows[0].n).toBe(1);
  });

  it('as a process without a secret: warns at start, answers 503 on the path, serves /healthz and /readyz', async () => {
    const unconfigured = await startWebhookServe({ DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers });
    try {
      expect(unconfigured.output()).toContain('no webhook secret configured');
      const reply = await deliver(
        `${unconfigured.url}/webhook/stripe`,
        stripeEvent('checkout.session.completed', checkoutSession()),
        SECRET,
      );
      expect(reply.status).toBe(503);
      expect((await fetch(`${unconfigured.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${unconfigured.url}/readyz`)).status).toBe(200);
    } finally {
      expect((await unconfigured.stop('SIGINT')).exitCode).toBe(130);
    }
  });

  it('with --metrics-port: /healthz, /readyz and /metrics on their own port, /readyz naming what it reaches', async () => {
    const separate = await startWebhookServe({ DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, STRIPE_WEBHOOK_SECRET: SECRET }, [
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '0',
    ]);
    try {
      expect(separate.metricsPort).not.toBe(separate.port);
      const ops = `http://127.0.0.1:${separate.metricsPort}`;
      const ready = await fetch(`${ops}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', database: 'ok', kafka: 'ok' });
      expect(await separate.metrics()).toContain('paymentsctl_webhook_');
      // The webhook listener serves the webhook path alone.
      expect((await fetch(`${separate.url}/readyz`)).status).toBe(404);
    } finally {
      expect((await separate.stop('SIGTERM')).exitCode).toBe(0);
    }
  });
});
