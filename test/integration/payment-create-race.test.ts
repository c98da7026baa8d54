import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentPaymentWriteError, PaymentIdentityConflictError, type PaymentWrite } from '../../src/payments/row.js';
import { writePayments } from '../../src/payments/store.js';
import { classifyFailure } from '../../src/worker/failures.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';

/**
 * The worker and the webhook receiver can both create an order's payments row — the receiver when
 * Stripe's webhook comes before the worker has committed its own result (after a database outage
 * both come back at once). Whoever loses must learn it as ConcurrentPaymentWriteError, which every
 * caller retries; a unique violation of the row's Stripe ids instead was taken for bad data and
 * dead-lettered the worker's whole batch.
 */
describe('writePayments when two transactions create the same row at once', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 4);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const creation = (aggregateId: string, ids: Partial<PaymentWrite> = { paymentIntentId: `pi_${aggregateId}` }, metadata = {}) => ({
    existed: false,
    write: {
      aggregateId,
      kind: 'payment_intent' as const,
      status: 'succeeded' as const,
      amount: 1000,
      currency: 'usd',
      idempotencyKey: `pi:${aggregateId}`,
      metadata,
      ...ids,
    },
  });

  /** BEGIN, the write, COMMIT on a client of its own: 'created', or the error it ended with. */
  async function createAlone(client: pg.PoolClient, write: ReturnType<typeof creation>): Promise<unknown> {
    await client.query('BEGIN');
    try {
      await writePayments(client, [write]);
      await client.query('COMMIT');
      return 'created';
    } catch (error) {
      await client.query('ROLLBACK');
      return error;
    }
  }

  it('one of two racing creators wins and the other gets ConcurrentPaymentWriteError, never a unique violation', async () => {
    const [first, second] = [await pool.connect(), await pool.connect()];
    try {
      // The window is PostgreSQL's, between its conflict check and its index inserts; a large
      // metadata value widens it (the row is TOASTed in between). With a conflict target only on
      // aggregate_id, 27 and 39 of these 400 races ended in a unique violation (without the
      // bulk, about 1 in 200).
      const races = 400;
      const bulky = { note: randomBytes(200_000).toString('base64') };
      const other: Record<string, number> = {};
      for (let i = 0; i < races; i++) {
        const write = creation(`order_race_${i}`, undefined, bulky);
        const outcomes = await Promise.all([createAlone(first, write), createAlone(second, write)]);
        expect(outcomes.filter((outcome) => outcome === 'created')).toHaveLength(1);
        const lost = outcomes.find((outcome) => outcome !== 'created');
        if (!(lost instanceof ConcurrentPaymentWriteError)) {
          const what = `${(lost as { code?: string }).code ?? ''} ${(lost as Error).message}`;
          other[what] = (other[what] ?? 0) + 1;
        }
      }
      expect(other).toEqual({});
    } finally {
      first.release();
      second.release();
    }
  }, 120_000);

  it('a new row naming a PaymentIntent or Checkout Session another row records is refused as permanent, naming both', async () => {
    await pool.query(
      `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id, stripe_checkout_session_id)
       VALUES ('order_holder', 'payment_intent', 'succeeded', 1, 'usd', 'pi:order_holder', 'pi_taken', NULL),
              ('trip_holder', 'checkout_session', 'pending', 1, 'usd', 'cs:trip_holder', NULL, 'cs_taken')`,
    );
    const client = await pool.connect();
    try {
      const byIntent = await createAlone(client, creation('order_late', { paymentIntentId: 'pi_taken' }));
      const bySession = await createAlone(client, creation('trip_late', { kind: 'checkout_session', checkoutSessionId: 'cs_taken' }));
      expect(byIntent).toBeInstanceOf(PaymentIdentityConflictError);
      expect(byIntent).toMatchObject({ aggregateId: 'order_late', stripeId: 'pi_taken', heldBy: 'order_holder' });
      expect(bySession).toMatchObject({ aggregateId: 'trip_late', stripeId: 'cs_taken', heldBy: 'trip_holder' });
      expect(classifyFailure(byIntent)).toBe('permanent');
      expect((await pool.query(`SELECT 1 FROM payments WHERE aggregate_id IN ('order_late', 'trip_late')`)).rowCount).toBe(0);
    } finally {
      client.release();
    }
  });
});
