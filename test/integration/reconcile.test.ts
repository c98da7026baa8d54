import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { runReconcile, type ReconcileOptions, type ReconcileReport } from '../../src/ops/reconcile/reconcile.js';
import { EmulatorAdminClient } from '../../src/stripe-emulator/admin-client.js';
import { startStripeEmulator, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { StripeGateway } from '../../src/stripe/gateway.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';

const KEY = 'sk_test_reconcile_suite';
const log = createLogger({ level: 'silent' });

interface Fixture {
  db: TestDatabase;
  pool: pg.Pool;
  emulator: RunningEmulator;
  admin: EmulatorAdminClient;
  gateway: StripeGateway;
}

async function fixture(): Promise<Fixture> {
  const db = await createTestDatabase();
  const emulator = await startStripeEmulator({ port: 0, seed: 17, log });
  const stripe = createStripeClient({ apiKey: KEY, apiBase: emulator.url, maxNetworkRetries: 0 });
  return { db, pool: testPool(db.url), emulator, admin: new EmulatorAdminClient(emulator.url), gateway: new StripeGateway(stripe) };
}

async function teardown(f: Fixture | undefined): Promise<void> {
  if (!f) return;
  await f.pool.end();
  await f.emulator.close();
  await f.db.drop();
}

function options(f: Fixture, extra: Partial<ReconcileOptions> = {}): ReconcileOptions {
  return {
    databaseUrl: f.db.url,
    stripe: { apiKey: KEY, apiBase: f.emulator.url },
    window: { since: '1h' },
    fix: false,
    execute: false,
    refundDuplicates: false,
    ratePerSecond: 20,
    staleAfterMs: 15 * 60_000,
    log,
    ...extra,
  };
}

interface RowSpec {
  aggregateId: string;
  status: string;
  amount: number;
  currency?: string;
  paymentIntentId?: string;
  checkoutSessionId?: string;
  kind?: 'payment_intent' | 'checkout_session';
}

async function insertRow(pool: pg.Pool, row: RowSpec): Promise<void> {
  const kind = row.kind ?? 'payment_intent';
  await pool.query(
    `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id, stripe_checkout_session_id, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      row.aggregateId,
      kind,
      row.status,
      row.amount,
      row.currency ?? 'usd',
      kind === 'checkout_session' ? `cs:${row.aggregateId}` : `pi:${row.aggregateId}`,
      row.paymentIntentId ?? null,
      row.checkoutSessionId ?? null,
      JSON.stringify(kind === 'checkout_session' ? { trip_id: row.aggregateId } : { order_id: row.aggregateId }),
    ],
  );
}

async function charge(f: Fixture, orderId: string, amount: number, options: { card?: string; currency?: string; key?: string } = {}) {
  const outcome = await f.gateway.chargeOrder({
    orderId,
    amount,
    currency: options.currency ?? 'usd',
    paymentMethod: options.card ?? 'pm_card_visa',
    ...(options.key ? { idempotencyKey: options.key } : {}),
  });
  if (!('paymentIntentId' in outcome) || !outcome.paymentIntentId) throw new Error(`no PaymentIntent for ${orderId}`);
  return outcome.paymentIntentId;
}

async function statuses(pool: pg.Pool): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ aggregate_id: string; status: string }>('SELECT aggregate_id, status FROM payments');
  return Object.fromEntries(rows.map((row) => [row.aggregate_id, row.status]));
}

async function outbox(pool: pg.Pool): Promise<{ key: string; topic: string; payload: Record<string, unknown> }[]> {
  const { rows } = await pool.query('SELECT key, topic, payload FROM outbox ORDER BY id');
  return rows;
}

const found = (report: ReconcileReport) =>
  Object.fromEntries(
    Object.entries(report.summary)
      .filter(([, row]) => row.found > 0)
      .map(([code, row]) => [code, row.found]),
  );

describe('reconcile: every discrepancy category, created on purpose in the emulator and the database', () => {
  let f: Fixture;
  const pis: Record<string, string> = {};

  beforeAll(async () => {
    f = await fixture();
    // In agreement: a paid order and a declined one.
    pis.ok = await charge(f, 'o-ok', 1500);
    await insertRow(f.pool, { aggregateId: 'o-ok', status: 'succeeded', amount: 1500, paymentIntentId: pis.ok });
    pis.declined = await charge(f, 'o-declined', 800, { card: 'pm_card_chargeDeclined' });
    await insertRow(f.pool, { aggregateId: 'o-declined', status: 'failed', amount: 800, paymentIntentId: pis.declined });
    // missing_local_success: the webhook was lost (row pending), and a charge whose row was never written.
    pis.lost = await charge(f, 'o-lost', 2000);
    await insertRow(f.pool, { aggregateId: 'o-lost', status: 'pending', amount: 2000, paymentIntentId: pis.lost });
    pis.norow = await charge(f, 'o-norow', 2100);
    // ... and a Checkout Session paid on the hosted page whose webhooks never came.
    const session = await f.gateway.createCheckoutSession({
      tripId: 'trip-lost',
      amount: 3100,
      currency: 'usd',
      productName: 'Ride',
      successUrl: 'https://example.com/ok',
      cancelUrl: 'https://example.com/cancel',
      metadata: { user_id: 'rider-1', driver_id: 'driver-1' },
    });
    await insertRow(f.pool, {
      aggregateId: 'trip-lost',
      kind: 'checkout_session',
      status: 'pending',
      amount: 3100,
      checkoutSessionId: session.sessionId,
    });
    await f.admin.completeCheckoutSession(session.sessionId, 'paid');
    // local_success_not_at_stripe: Stripe has no such PaymentIntent; and one that is still declined.
    await insertRow(f.pool, { aggregateId: 'o-ghost', status: 'succeeded', amount: 900, paymentIntentId: 'pi_never_made_0001' });
    pis.wrongsuccess = await charge(f, 'o-wrongsuccess', 700, { card: 'pm_card_chargeDeclined' });
    await insertRow(f.pool, { aggregateId: 'o-wrongsuccess', status: 'succeeded', amount: 700, paymentIntentId: pis.wrongsuccess });
    // amount_mismatch and currency_mismatch.
    pis.amount = await charge(f, 'o-amount', 1000);
    await insertRow(f.pool, { aggregateId: 'o-amount', status: 'succeeded', amount: 1200, paymentIntentId: pis.amount });
    pis.currency = await charge(f, 'o-currency', 1000);
    await insertRow(f.pool, {
      aggregateId: 'o-currency',
      status: 'succeeded',
      amount: 1000,
      currency: 'eur',
      paymentIntentId: pis.currency,
    });
    // refund_missing_local: refunded at Stripe, the row never heard; refund_missing_at_stripe: the other way round.
    pis.refunded = await charge(f, 'o-refunded', 1300);
    await f.gateway.refund({ orderId: 'o-refunded', paymentIntentId: pis.refunded });
    await insertRow(f.pool, { aggregateId: 'o-refunded', status: 'succeeded', amount: 1300, paymentIntentId: pis.refunded });
    pis.notrefunded = await charge(f, 'o-notrefunded', 1400);
    await insertRow(f.pool, { aggregateId: 'o-notrefunded', status: 'refunded', amount: 1400, paymentIntentId: pis.notrefunded });
    // double_charge: a second PaymentIntent for the same order under another idempotency key.
    pis.dupFirst = await charge(f, 'o-dup', 1600);
    pis.dupSecond = await charge(f, 'o-dup', 1600, { key: 'pi:o-dup:retry-bug' });
    await insertRow(f.pool, { aggregateId: 'o-dup', status: 'succeeded', amount: 1600, paymentIntentId: pis.dupFirst });
    // stale_pending: declined at Stripe long ago, pending here for an hour.
    pis.stale = await charge(f, 'o-stale', 600, { card: 'pm_card_chargeDeclinedInsufficientFunds' });
    await insertRow(f.pool, { aggregateId: 'o-stale', status: 'pending', amount: 600, paymentIntentId: pis.stale });
    await f.pool.query(`UPDATE payments SET updated_at = now() - interval '1 hour' WHERE aggregate_id = 'o-stale'`);
    // orphan_at_stripe: a declined PaymentIntent with our metadata and no row.
    pis.orphan = await charge(f, 'o-orphan', 500, { card: 'pm_card_chargeDeclined' });
  });
  afterAll(() => teardown(f));

  it('finds each category, with its rows, and changes nothing without --fix --execute', async () => {
    const report = await runReconcile(options(f));
    expect(found(report)).toEqual({
      missing_local_success: 3,
      local_success_not_at_stripe: 2,
      amount_mismatch: 1,
      currency_mismatch: 1,
      refund_missing_local: 1,
      refund_missing_at_stripe: 1,
      double_charge: 1,
      stale_pending: 1,
      orphan_at_stripe: 1,
    });
    const byCode = (code: string) =>
      report.discrepancies
        .filter((item) => item.code === code)
        .map((item) => item.aggregateId)
        .sort();
    expect(byCode('missing_local_success')).toEqual(['o-lost', 'o-norow', 'trip-lost']);
    expect(byCode('local_success_not_at_stripe')).toEqual(['o-ghost', 'o-wrongsuccess']);
    expect(byCode('double_charge')).toEqual(['o-dup']);
    expect(report.discrepancies.find((item) => item.code === 'double_charge')!.fix).toEqual({
      action: 'refund_duplicates',
      keep: pis.dupFirst,
      refund: [pis.dupSecond],
    });
    expect(report.exitCode).toBe(1);
    expect(report.mode).toBe('check');
    expect(report.notes.join(' ')).toMatch(/double_charge: 1 not refunded.*--refund-duplicates/);

    const plan = await runReconcile(options(f, { fix: true }));
    expect(plan.mode).toBe('plan');
    expect(plan.totals.fixable).toBe(5);
    expect(plan.discrepancies.every((item) => item.repair === undefined)).toBe(true);
    expect((await statuses(f.pool))['o-lost']).toBe('pending');
    expect(await outbox(f.pool)).toEqual([]);
  });

  it('the CLI prints the summary as JSON, writes the rows as CSV and JSON lines, and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reconcile-report-'));
    try {
      const env = { DATABASE_URL: f.db.url, STRIPE_API_KEY: KEY, STRIPE_API_BASE: f.emulator.url, LOG_LEVEL: 'error' };
      const csv = join(dir, 'finance.csv');
      const json = await runCli(['reconcile', '--json', '--report', csv], env);
      expect(json.exitCode).toBe(1);
      const report = JSON.parse(json.stdout) as ReconcileReport;
      expect(report.totals.found).toBe(12);
      const lines = (await readFile(csv, 'utf8')).trim().split('\n');
      expect(lines[0]).toMatch(/^code,aggregate_id,local_status/);
      expect(lines).toHaveLength(13);
      expect(lines.some((line) => line.startsWith('double_charge,o-dup,succeeded,1600,usd,'))).toBe(true);

      const jsonl = join(dir, 'finance.jsonl');
      const text = await runCli(['reconcile', '--details', '--report', jsonl], env);
      expect(text.exitCode).toBe(1);
      expect(text.stdout).toMatch(/stale_pending\s+1\s+0\s+1/);
      expect(text.stdout).toContain('o-ghost: the row says succeeded but Stripe has no PaymentIntent');
      const records = (await readFile(jsonl, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { code: string });
      expect(records.filter((record) => record.code === 'orphan_at_stripe')).toHaveLength(1);

      const usage = await runCli(['reconcile', '--execute'], env);
      expect(usage.exitCode).toBe(2);
      const badReport = await runCli(['reconcile', '--report', join(dir, 'x.txt')], env);
      expect(badReport.exitCode).toBe(2);
      const noStripe = await runCli(['reconcile'], { ...env, STRIPE_API_BASE: 'http://127.0.0.1:9' });
      expect(noStripe.exitCode).toBe(3);
      const noDb = await runCli(['reconcile'], { ...env, DATABASE_URL: 'postgres://postgres@127.0.0.1:9/none' });
      expect(noDb.exitCode).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--fix --execute repairs through the outbox, one event per repaired row, and a second run does nothing', async () => {
    const report = await runReconcile(options(f, { fix: true, execute: true }));
    expect(report.mode).toBe('execute');
    const repaired = report.discrepancies
      .filter((item) => item.repair?.result === 'repaired')
      .map((item) => item.aggregateId)
      .sort();
    expect(repaired).toEqual(['o-lost', 'o-norow', 'o-refunded', 'o-stale', 'trip-lost']);
    expect(report.summary.double_charge).toEqual({ found: 1, fixed: 0, remaining: 1 });
    expect(report.exitCode).toBe(1);

    const rows = await statuses(f.pool);
    expect(rows).toMatchObject({
      'o-lost': 'succeeded',
      'o-norow': 'succeeded',
      'trip-lost': 'succeeded',
      'o-refunded': 'refunded',
      'o-stale': 'failed',
    });
    // Never backwards: what is only flagged is left as it was.
    expect(rows).toMatchObject({ 'o-ghost': 'succeeded', 'o-notrefunded': 'refunded', 'o-dup': 'succeeded' });
    const events = await outbox(f.pool);
    expect(events.map((event) => `${event.key} ${event.topic}`).sort()).toEqual([
      'o-lost payments.completed',
      'o-norow payments.completed',
      'o-refunded payments.refunded',
      'o-stale payments.failed',
      'trip-lost payments.completed',
    ]);
    expect(events.find((event) => event.key === 'o-lost')!.payload).toMatchObject({
      order_id: 'o-lost',
      payment_intent_id: pis.lost,
      amount: 2000,
      currency: 'usd',
      status: 'succeeded',
    });
    expect(events.find((event) => event.key === 'trip-lost')!.payload).toMatchObject({
      trip_id: 'trip-lost',
      user_id: 'rider-1',
      amount: 3100,
    });
    expect(events.find((event) => event.key === 'o-stale')!.payload).toMatchObject({
      order_id: 'o-stale',
      decline_code: 'insufficient_funds',
    });
    const { rows: audit } = await f.pool.query<{ n: string }>('SELECT count(*) AS n FROM reconcile_repairs');
    expect(Number(audit[0]!.n)).toBe(5);

    const again = await runReconcile(options(f, { fix: true, execute: true }));
    expect(again.discrepancies.filter((item) => item.repair?.result === 'repaired')).toEqual([]);
    expect(again.summary.missing_local_success.found).toBe(0);
    expect(await outbox(f.pool)).toHaveLength(5);
  });

  it('refunds a double charge only with --refund-duplicates, under re:dup:<payment_intent>, and once', async () => {
    const before = await f.admin.charges();
    expect(before.byOrder['o-dup']).toBe(2);
    const refunded = await runReconcile(options(f, { fix: true, execute: true, refundDuplicates: true }));
    const item = refunded.discrepancies.find((entry) => entry.code === 'double_charge')!;
    expect(item.repair).toMatchObject({ result: 'refunded_duplicate', refunds: [{ paymentIntentId: pis.dupSecond }] });
    expect(refunded.summary.double_charge).toEqual({ found: 1, fixed: 1, remaining: 0 });

    const stripe = createStripeClient({ apiKey: KEY, apiBase: f.emulator.url });
    const refunds = async (paymentIntent: string) => (await stripe.refunds.list({ payment_intent: paymentIntent })).data;
    expect(await refunds(pis.dupSecond!)).toHaveLength(1);
    expect(await refunds(pis.dupFirst!)).toHaveLength(0);

    const again = await runReconcile(options(f, { fix: true, execute: true, refundDuplicates: true }));
    expect(again.summary.double_charge.found).toBe(0);
    expect(await refunds(pis.dupSecond!)).toHaveLength(1);
    expect((await statuses(f.pool))['o-dup']).toBe('succeeded');
    // What remains needs a person: the flag-only categories.
    expect(found(again)).toEqual({
      local_success_not_at_stripe: 2,
      amount_mismatch: 1,
      currency_mismatch: 1,
      refund_missing_at_stripe: 1,
      orphan_at_stripe: 1,
    });
  });
});

describe('reconcile against Stripe limits: pagination, the rate cap, 429 back-off', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
    for (let i = 0; i < 250; i++) {
      const id = `o-page-${String(i).padStart(3, '0')}`;
      const pi = await charge(f, id, 1000 + i);
      await insertRow(f.pool, { aggregateId: id, status: 'succeeded', amount: 1000 + i, paymentIntentId: pi });
    }
  });
  afterAll(() => teardown(f));

  it('walks 250 PaymentIntents at limit 100 (three pages) and finds them all in agreement', async () => {
    await f.admin.resetRequests();
    const report = await runReconcile(options(f, { pageSize: 100 }));
    expect(report.stripe.paymentIntents).toBe(250);
    expect(report.rows).toBe(250);
    expect(report.totals.found).toBe(0);
    expect(report.exitCode).toBe(0);
    // 3 pages of PaymentIntents, 1 of Checkout Sessions, 1 of Refunds.
    expect(report.stripe.requests).toBe(5);
    expect((await f.admin.requests()).total).toBe(5);
  });

  it('never sends more than --rate requests in any second, as the emulator measures it', async () => {
    await f.admin.resetRequests();
    const report = await runReconcile(options(f, { pageSize: 10, ratePerSecond: 20 }));
    expect(report.stripe.paymentIntents).toBe(250);
    const seen = await f.admin.requests();
    expect(seen.total).toBe(27);
    expect(seen.peakPerSecond).toBeLessThanOrEqual(20);
  });

  it("backs off on Stripe's 429s and still reads everything", async () => {
    await f.admin.setFaults({ rateLimitPerSecond: 4 });
    try {
      await f.admin.resetRequests();
      const report = await runReconcile(options(f, { pageSize: 25, ratePerSecond: 20 }));
      expect(report.stripe.paymentIntents).toBe(250);
      expect(report.totals.found).toBe(0);
      expect(report.stripe.rateLimited).toBeGreaterThan(0);
      expect((await f.admin.requests()).rateLimited).toBe(report.stripe.rateLimited);
    } finally {
      await f.admin.setFaults({ rateLimitPerSecond: 0 });
    }
  });
});

describe('reconcile walks a long window day by day and resumes after an interruption', () => {
  let f: Fixture;
  const DAY = 86_400;
  let start: Date;
  beforeAll(async () => {
    f = await fixture();
    start = new Date();
    // One lost webhook on each of three days (the emulator's clock moved a day between them).
    for (const day of [0, 1, 2]) {
      await charge(f, `o-day-${day}`, 1000 + day);
      await fetch(`${f.emulator.url}/_emulator/clock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ advanceSeconds: DAY }),
      });
    }
  });
  afterAll(() => teardown(f));

  it('saves each finished day, resumes at the next one, and starts over once the window is done', async () => {
    const window = {
      since: new Date(start.getTime() - 3_600_000).toISOString(),
      until: new Date(start.getTime() + 3 * DAY * 1000).toISOString(),
    };
    const stop = new AbortController();
    const first = runReconcile(
      options(f, {
        window,
        signal: stop.signal,
        onProgress: (progress) => {
          if (progress.day === 2) stop.abort();
        },
      }),
    );
    await expect(first).rejects.toBeInstanceOf(InterruptedError);
    const { rows } = await f.pool.query<{ n: string }>('SELECT count(*) AS n FROM reconcile_days');
    expect(Number(rows[0]!.n)).toBe(2);

    const resumed = await runReconcile(options(f, { window }));
    expect(resumed.window.days).toBeGreaterThanOrEqual(4);
    expect(resumed.window.resumedDays).toBe(2);
    expect(resumed.discrepancies.map((item) => item.aggregateId).sort()).toEqual(['o-day-0', 'o-day-1', 'o-day-2']);

    const fresh = await runReconcile(options(f, { window }));
    expect(fresh.window.resumedDays).toBe(0);
    expect(fresh.totals.found).toBe(3);
  });
});
