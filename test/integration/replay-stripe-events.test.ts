import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { replayStripeEvents, type StripeEventsReplayReport } from '../../src/ops/replay/stripe-events.js';
import { startStripeEmulator, type DeliveryRecord, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { StripeGateway } from '../../src/stripe/gateway.js';
import { parseJson, runCli } from '../helpers/cli.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { completedCheckout, startWebhookServe, type WebhookServeProcess } from '../helpers/webhook.js';

const SECRET = 'whsec_replay_stripe_events_secret_01';

/** The emulator drops every webhook; replay stripe-events heals what never arrived, once. */
describe('paymentsctl replay stripe-events', () => {
  const { kafkaBrokers } = inject('stack');
  let db: TestDatabase;
  let pool: pg.Pool;
  let serve: WebhookServeProcess;
  let emulator: RunningEmulator;
  let gateway: StripeGateway;
  let env: Record<string, string>;

  const replay = async (args: string[], expectedExit = 0, extraEnv: Record<string, string> = {}) => {
    const result = await runCli(['replay', 'stripe-events', ...args, '--json'], { ...env, ...extraEnv });
    if (result.exitCode !== expectedExit)
      throw new Error(`replay stripe-events exited ${result.exitCode}, expected ${expectedExit}:\n${result.stderr}\n${result.stdout}`);
    return expectedExit === 0 || expectedExit === 1 ? parseJson<StripeEventsReplayReport>(result.stdout) : undefined;
  };
  const count = async (sql: string, values: unknown[] = []) => Number((await pool.query<{ n: string }>(sql, values)).rows[0]!.n);
  const deliveries = async () =>
    ((await (await fetch(`${emulator.url}/_emulator/webhooks`)).json()) as { deliveries: DeliveryRecord[] }).deliveries;

  async function paidCheckout(tripId: string): Promise<void> {
    await completedCheckout(gateway, emulator.url, tripId, 'paid');
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url);
    serve = await startWebhookServe({ DATABASE_URL: db.url, KAFKA_BROKERS: kafkaBrokers, STRIPE_WEBHOOK_SECRET: SECRET });
    emulator = await startStripeEmulator({
      port: 0,
      seed: 7,
      webhookUrls: [`${serve.url}/webhook/stripe`],
      webhookSecret: SECRET,
      faults: { dropRate: 1 },
      log: createLogger({ level: 'silent' }),
    });
    gateway = new StripeGateway(createStripeClient({ apiKey: 'sk_test_replay_stripe', apiBase: emulator.url, maxNetworkRetries: 0 }));
    env = { DATABASE_URL: db.url, STRIPE_API_KEY: 'sk_test_replay_stripe', STRIPE_API_BASE: emulator.url };
  });
  afterAll(async () => {
    await emulator?.close();
    if (serve && serve.process.exitCode === null) await serve.stop('SIGKILL');
    await pool?.end();
    await db?.drop();
  });

  it('a dry run lists the dropped events and changes nothing; --execute records each once; a second run skips them all', async () => {
    await paidCheckout('trip-a');
    await paidCheckout('trip-b');
    expect((await deliveries()).every((d) => d.status === 'dropped')).toBe(true);

    const plan = (await replay([]))!;
    expect(plan.mode).toBe('plan');
    expect(plan.listed).toBe('delivery_success=false');
    const completed = plan.events.filter((e) => e.type === 'checkout.session.completed');
    expect(completed.map((e) => e.disposition)).toEqual(['candidate', 'candidate']);
    expect(plan.events.some((e) => e.disposition === 'ignored')).toBe(true);
    // Oldest first.
    expect([...plan.events].map((e) => e.created)).toEqual([...plan.events].map((e) => e.created).sort());
    expect(await count('SELECT count(*) AS n FROM webhook_events')).toBe(0);
    expect(await count('SELECT count(*) AS n FROM replays')).toBe(0);

    const run = (await replay(['--execute']))!;
    expect(run.exitCode).toBe(0);
    expect(run.failed).toBe(0);
    expect(run.replayId).toBeDefined();
    // Oldest first, as the receiver would have seen them: payment_intent.succeeded moves each row,
    // and its checkout.session.completed then finds it there already.
    const fed = run.events.filter((e) => e.disposition === 'candidate');
    expect(fed.every((e) => e.outcome !== undefined && e.outcome !== 'failed')).toBe(true);
    expect(fed.filter((e) => e.outcome === 'published:payments.completed')).toHaveLength(2);
    expect(await count(`SELECT count(*) AS n FROM outbox WHERE topic = 'payments.completed'`)).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM payments WHERE status = 'succeeded'`)).toBe(2);
    expect(await count(`SELECT count(*) AS n FROM replay_stripe_events WHERE replay_id = $1`, [run.replayId])).toBe(run.replayed);

    const again = (await replay(['--execute']))!;
    expect(again.replayId).toBeUndefined();
    expect(again.events.filter((e) => e.disposition === 'candidate')).toEqual([]);
    expect(await count(`SELECT count(*) AS n FROM outbox WHERE topic = 'payments.completed'`)).toBe(2);

    const list = await runCli(['replay', 'list', '--json'], env);
    expect(list.exitCode).toBe(0);
    expect(parseJson<{ source: string }[]>(list.stdout).map((r) => r.source)).toEqual(['stripe-events']);
    const show = await runCli(['replay', 'show', run.replayId!, '--json'], env);
    expect(show.exitCode).toBe(0);
    const shown = parseJson<{ stripeEvents: { eventId: string; outcome: string }[] }>(show.stdout);
    expect(shown.stripeEvents.map((e) => e.eventId).sort()).toEqual(fed.map((e) => e.id).sort());
  });

  it('--resend has Stripe deliver them to the receiver; then delivery_success=false lists nothing', async () => {
    await paidCheckout('trip-c');
    const plan = (await replay(['--resend', '--webhook-endpoint', 'we_cli_1', '--type', 'checkout.session.completed']))!;
    expect(plan.events.filter((e) => e.disposition === 'candidate')).toHaveLength(1);
    expect(await count(`SELECT count(*) AS n FROM outbox WHERE topic = 'payments.completed'`)).toBe(2);

    const run = (await replay(['--resend', '--webhook-endpoint', 'we_cli_1', '--type', 'checkout.session.completed', '--execute']))!;
    const resent = run.events.filter((e) => e.outcome === 'resent');
    expect(resent).toHaveLength(1);
    await waitFor(
      'the resent event recorded by the receiver',
      async () => (await count(`SELECT count(*) AS n FROM outbox WHERE topic = 'payments.completed'`)) === 3,
    );
    await waitFor('Stripe marks it delivered', async () => {
      const after = (await replay(['--type', 'checkout.session.completed']))!;
      return !after.events.some((e) => e.id === resent[0]!.id);
    });
  });

  it('exit 2 for a bad selection or no endpoint to resend to; exit 3 when Stripe or PostgreSQL is unreachable', async () => {
    await replay(['--since', '40d'], 2);
    await replay(['--type', 'Not A Type'], 2);
    await replay(['--resend'], 2);
    await replay([], 3, { STRIPE_API_BASE: 'http://127.0.0.1:1' });
    await replay([], 3, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await count(`SELECT count(*) AS n FROM replays`)).toBe(2);
  });
  it('Ctrl-C between two events: the run is recorded interrupted (exit 130), and the same command goes on with the rest', async () => {
    for (const trip of ['trip-d', 'trip-e', 'trip-f']) await paidCheckout(trip);
    const completedBefore = await count(`SELECT count(*) AS n FROM outbox WHERE topic = 'payments.completed'`);
    const ctrlC = new AbortController();
    const stopped = await replayStripeEvents({
      databaseUrl: db.url,
      stripeApiKey: 'sk_test_replay_stripe',
      stripeApiBase: emulator.url,
      types: ['checkout.session.completed'],
      resend: false,
      execute: true,
      log: createLogger({ level: 'silent' }),
      signal: ctrlC.signal,
      onProgress: ({ done }) => {
        if (done === 1) ctrlC.abort();
      },
    });
    expect(stopped).toMatchObject({ interrupted: true, exitCode: 130, replayed: 1, failed: 0 });
    expect(stopped.events.filter((e) => e.disposition === 'candidate' && e.outcome === undefined)).toHaveLength(2);
    const recorded = await pool.query<{ status: string; replayed: number }>('SELECT status, replayed FROM replays WHERE id = $1', [
      stopped.replayId,
    ]);
    expect(recorded.rows[0]).toMatchObject({ status: 'interrupted', replayed: 1 });

    const rest = (await replay(['--type', 'checkout.session.completed', '--execute']))!;
    expect(rest).toMatchObject({ interrupted: false, exitCode: 0, replayed: 2 });
    // Each of the three trips completed once: the first run's one, the re-run's two.
    expect(await count(`SELECT count(*) AS n FROM outbox WHERE topic = 'payments.completed'`)).toBe(completedBefore + 3);
  });
});
