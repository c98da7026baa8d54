import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensurePipelineTopics } from '../../src/kafka/ensure.js';
import { enqueueMany } from '../../src/outbox/enqueue.js';
import { isTerminal, type PaymentStatus } from '../../src/payments/status.js';
import { startStripeEmulator, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import type { ChargeReport } from '../../src/stripe-emulator/inspection.js';
import { uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { startRole, type RoleProcess } from '../helpers/roles.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../helpers/throwaway-postgres.js';
import { waitFor } from '../helpers/wait.js';
import { deliver, paymentIntent, startWebhookServe, stripeEvent, type WebhookServeProcess } from '../helpers/webhook.js';

const SECRET = 'whsec_outage_test_secret';

// The cluster is the test's own: stopping it for 20 s touches no other test file.
describe('every role under traffic while PostgreSQL restarts and then stays away for 20 s', () => {
  let postgres: ThrowawayPostgres;
  let pool: pg.Pool;
  let emulator: RunningEmulator;
  let env: { DATABASE_URL: string; KAFKA_BROKERS: string; KAFKA_TOPIC_PREFIX: string } & Record<string, string>;
  let publisher: PublisherProcess;
  let worker: RoleProcess;
  let receiver: WebhookServeProcess;
  let shortLimit: WebhookServeProcess;
  const orderIds: string[] = [];

  beforeAll(async () => {
    postgres = await startThrowawayPostgres();
    pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
    pool.on('error', () => undefined); // the test's own connections die with the server too
    const { kafkaBrokers } = inject('stack');
    const prefix = uniquePrefix();
    await ensurePipelineTopics({ brokers: kafkaBrokers.split(','), prefix, partitions: 3, retryLevels: 3 }).catch(() =>
      ensurePipelineTopics({ brokers: kafkaBrokers.split(','), prefix, partitions: 3, retryLevels: 3 }),
    );
    // Slow enough a Stripe that the orders are still being paid when the database goes away.
    emulator = await startStripeEmulator({ port: 0, seed: 3, faults: { latencyMs: 40 } });
    env = {
      DATABASE_URL: postgres.url,
      KAFKA_BROKERS: kafkaBrokers,
      KAFKA_TOPIC_PREFIX: prefix,
      STRIPE_API_BASE: emulator.url,
      STRIPE_API_KEY: 'sk_test_outage',
      STRIPE_WEBHOOK_SECRET: SECRET,
    };
    publisher = await startPublisher(env, ['--poll-interval', '200ms']);
    worker = await startRole('worker', env, ['--concurrency', '4', '--handlers', 'payments,saga']);
    receiver = await startWebhookServe({ ...env, PATH: process.env.PATH ?? '' });
    shortLimit = await startWebhookServe({ ...env, PATH: process.env.PATH ?? '', OUTAGE_LIMIT: '4s' });
  });

  afterAll(async () => {
    for (const role of [worker, publisher, receiver, shortLimit]) if (role && role.process.exitCode === null) await role.kill('SIGKILL');
    await emulator?.close();
    await pool?.end().catch(() => undefined);
    await postgres?.close();
  });

  /** Orders in one application transaction; retried while the database is starting up again. */
  async function place(count: number): Promise<void> {
    const ids = Array.from({ length: count }, (_, i) => `order-${orderIds.length + i}`);
    const events = ids.map((id) => ({
      topic: 'orders.placed',
      key: id,
      type: 'orders.placed',
      data: { order_id: id, amount: 1000 + orderIds.length, currency: 'usd', payment_method: 'pm_card_visa' },
    }));
    await waitFor('the orders to be placed', async () => {
      const client = await pool.connect().catch(() => undefined);
      if (!client) return false;
      try {
        await client.query('BEGIN');
        await enqueueMany(client, events);
        await client.query('COMMIT');
        return true;
      } catch {
        await client.query('ROLLBACK').catch(() => undefined);
        return false;
      } finally {
        client.release(true);
      }
    });
    orderIds.push(...ids);
  }

  async function settled(): Promise<number> {
    const { rows } = await pool.query<{ status: PaymentStatus }>('SELECT status FROM payments WHERE aggregate_id = ANY($1)', [orderIds]);
    return rows.filter((row) => isTerminal(row.status)).length;
  }

  const ready = async (role: { metricsPort: number }) =>
    (await fetch(`http://127.0.0.1:${role.metricsPort}/readyz`).catch(() => undefined))?.status;
  const webhook = () =>
    deliver(
      `${receiver.url}/webhook/stripe`,
      stripeEvent('payment_intent.succeeded', paymentIntent({ metadata: { order_id: `webhook-${Date.now()}` } })),
      SECRET,
    );

  it('loses nothing, doubles nothing, sends nothing to the dead letters, and every role resumes by itself', async () => {
    for (let i = 0; i < 4; i++) await place(50);
    await waitFor('the first payments', async () => (await settled()) >= 20);

    // A restart of about a second, while payments are in flight.
    await postgres.restart();
    await place(100);
    const before = await settled();
    await waitFor('payments after the restart', async () => (await settled()) > before);

    // Then refusing connections for 20 s, with orders still to pay.
    await place(100);
    await postgres.halt();
    const downAt = Date.now();
    await waitFor('the receiver to say it is not ready', async () => (await ready(receiver)) === 503);
    const refused = await webhook();
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { reason: 'database_unavailable' } });
    // Past its 4 s limit, a receiver gives up and exits 3 so that its container is restarted.
    await waitFor('the receiver with a 4 s outage limit to exit', () => shortLimit.process.exitCode !== null, 30_000);
    expect(shortLimit.process.exitCode).toBe(3);
    expect(shortLimit.output()).toMatch(/PostgreSQL has been unreachable for \d+s, longer than the outage limit \(4s\)/);
    await sleep(Math.max(0, 20_000 - (Date.now() - downAt)));
    for (const role of [publisher, worker, receiver]) expect(role.process.exitCode, role.output().slice(-3000)).toBeNull();
    await postgres.resume();

    await waitFor('every order to be paid', async () => (await settled().catch(() => 0)) === orderIds.length, 180_000);
    await waitFor('the receiver to be ready again', async () => (await ready(receiver)) === 200);
    expect((await webhook()).status).toBe(200);

    // Each order's payments row moved once, and that move has exactly one outbox event.
    const { rows } = await pool.query<{ key: string; events: number }>(
      `SELECT key, count(*)::int AS events FROM outbox WHERE topic IN ('payments.completed', 'payments.failed') AND key = ANY($1) GROUP BY key`,
      [orderIds],
    );
    expect(rows.length).toBe(orderIds.length);
    expect(rows.filter((row) => row.events !== 1)).toEqual([]);
    const statuses = await pool.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM payments WHERE aggregate_id = ANY($1) GROUP BY status',
      [orderIds],
    );
    expect(statuses.rows).toEqual([{ status: 'succeeded', n: orderIds.length }]);
    const charges = (await (await fetch(`${emulator.url}/_emulator/charges`)).json()) as ChargeReport;
    expect(Object.entries(charges.byOrder).filter(([, n]) => n > 1)).toEqual([]);
    expect(await worker.metric('paymentsctl_worker_messages_dead_lettered_total')).toBe(0);

    // The publisher gave up its leadership with the connection and took it again.
    const leaderships = publisher
      .output()
      .split('\n')
      .filter((line) => line.includes('became the active outbox publisher') && line.includes('"topic":"orders.placed"'));
    expect(leaderships.length).toBeGreaterThanOrEqual(2);
    for (const role of [publisher, worker, receiver]) expect(role.process.exitCode).toBeNull();
    expect(publisher.output() + worker.output() + receiver.output()).not.toMatch(/Emitted 'error' event|Unhandled|uncaught/i);
  });
});
