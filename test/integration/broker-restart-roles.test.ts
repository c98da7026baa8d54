import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePipelineTopics } from '../../src/kafka/ensure.js';
import { isTerminal, type PaymentStatus } from '../../src/payments/status.js';
import { isProcessAlive } from '../../src/stack/process.js';
import { kafkaVersionFrom, startKafka, stopKafka, type ManagedKafka } from '../../src/stack/kafka.js';
import { defaultCacheDir } from '../../src/stack/paths.js';
import { startStripeEmulator, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import type { ChargeReport } from '../../src/stripe-emulator/inspection.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { uniquePrefix } from '../helpers/kafka.js';
import { startPublisher, type PublisherProcess } from '../helpers/publisher.js';
import { startRole, type RoleProcess } from '../helpers/roles.js';
import { waitFor } from '../helpers/wait.js';
import { deliver, paymentIntent, startWebhookServe, stripeEvent, type WebhookServeProcess } from '../helpers/webhook.js';
import { enqueueMany } from '../../src/outbox/enqueue.js';

const SECRET = 'whsec_broker_restart_secret';

// A broker of its own, killed and started again on the same address: the suite's shared broker is
// not touched.
describe('every role under traffic while the Kafka broker is SIGKILLed and comes back on the same address', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let workDir: string;
  let broker: ManagedKafka;
  let emulator: RunningEmulator;
  let publisher: PublisherProcess;
  let worker: RoleProcess;
  let receiver: WebhookServeProcess;
  const orderIds: string[] = [];

  const launch = (ports?: { port: number; controllerPort: number }) =>
    startKafka({ version: kafkaVersionFrom(process.env), workDir, cacheDir: defaultCacheDir(), timeoutMs: 120_000, ...ports });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 4);
    workDir = await mkdtemp(join(tmpdir(), 'paymentsctl-roles-broker-'));
    broker = await launch();
    const prefix = uniquePrefix();
    await ensurePipelineTopics({ brokers: [broker.brokers], prefix, partitions: 3, retryLevels: 3 }).catch(() =>
      ensurePipelineTopics({ brokers: [broker.brokers], prefix, partitions: 3, retryLevels: 3 }),
    );
    emulator = await startStripeEmulator({ port: 0, seed: 5, faults: { latencyMs: 40 } });
    const env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: broker.brokers,
      KAFKA_TOPIC_PREFIX: prefix,
      STRIPE_API_BASE: emulator.url,
      STRIPE_API_KEY: 'sk_test_broker_restart',
      STRIPE_WEBHOOK_SECRET: SECRET,
    };
    publisher = await startPublisher(env, ['--poll-interval', '200ms']);
    worker = await startRole('worker', env, ['--concurrency', '4', '--handlers', 'payments,saga', '--session-timeout', '10s']);
    receiver = await startWebhookServe({ ...env, PATH: process.env.PATH ?? '' });
  });

  afterAll(async () => {
    for (const role of [worker, publisher, receiver]) if (role && role.process.exitCode === null) await role.kill('SIGKILL');
    await emulator?.close();
    if (broker) await stopKafka(broker, { removeData: true });
    await rm(workDir, { recursive: true, force: true });
    await pool?.end();
    await db?.drop();
  });

  async function place(count: number): Promise<void> {
    const ids = Array.from({ length: count }, (_, i) => `order-${orderIds.length + i}`);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await enqueueMany(
        client,
        ids.map((id) => ({
          topic: 'orders.placed',
          key: id,
          type: 'orders.placed',
          data: { order_id: id, amount: 1500, currency: 'usd', payment_method: 'pm_card_visa' },
        })),
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    orderIds.push(...ids);
  }

  async function settled(): Promise<number> {
    const { rows } = await pool.query<{ status: PaymentStatus }>('SELECT status FROM payments WHERE aggregate_id = ANY($1)', [orderIds]);
    return rows.filter((row) => isTerminal(row.status)).length;
  }

  const ready = async () => (await fetch(`${receiver.url}/readyz`).catch(() => undefined))?.status;
  const webhook = () =>
    deliver(
      `${receiver.url}/webhook/stripe`,
      stripeEvent('payment_intent.succeeded', paymentIntent({ metadata: { order_id: `webhook-${Date.now()}` } })),
      SECRET,
    );

  it('loses nothing, doubles nothing, dead-letters nothing, and every role reconnects by itself', async () => {
    for (let i = 0; i < 4; i++) await place(50);
    await waitFor('the first payments', async () => (await settled()) >= 20);

    process.kill(broker.pid, 'SIGKILL');
    await waitFor('the broker to be dead', () => !isProcessAlive(broker.pid));
    await place(100); // committed to the outbox while Kafka is away
    await waitFor('the receiver to say it is not ready', async () => (await ready()) === 503);
    await sleep(5_000);
    for (const role of [publisher, worker, receiver]) expect(role.process.exitCode, role.output().slice(-3000)).toBeNull();
    broker = await launch({ port: broker.port, controllerPort: broker.controllerPort });

    await waitFor('every order to be paid', async () => (await settled()) === orderIds.length, 180_000);
    await waitFor('the receiver to be ready again', async () => (await ready()) === 200);
    expect((await webhook()).status).toBe(200);

    const { rows } = await pool.query<{ key: string; events: number }>(
      `SELECT key, count(*)::int AS events FROM outbox WHERE topic IN ('payments.completed', 'payments.failed') AND key = ANY($1) GROUP BY key`,
      [orderIds],
    );
    expect(rows.length).toBe(orderIds.length);
    expect(rows.filter((row) => row.events !== 1)).toEqual([]);
    await waitFor(
      'the outbox to be drained',
      async () => Number((await pool.query('SELECT count(*) FROM outbox WHERE published_at IS NULL')).rows[0].count) === 0,
    );
    const charges = (await (await fetch(`${emulator.url}/_emulator/charges`)).json()) as ChargeReport;
    expect(Object.entries(charges.byOrder).filter(([, n]) => n > 1)).toEqual([]);
    expect(await worker.metric('paymentsctl_worker_messages_dead_lettered_total')).toBe(0);
    for (const role of [publisher, worker, receiver]) expect(role.process.exitCode).toBeNull();
  });
});
