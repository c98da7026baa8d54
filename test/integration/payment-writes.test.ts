import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyWrite, ConcurrentPaymentWriteError, type PaymentRow, type PaymentWrite } from '../../src/payments/row.js';
import { fromDb, writePayments, type DbRow } from '../../src/payments/store.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';

/**
 * A webhook event recorded alone writes its payments row by itself; a group commit writes many
 * rows in one call. Both must be exactly the same rows. Two databases start alike, one gets the
 * writes one call per row, the other all in one call.
 */
describe('writePayments writes the same rows one at a time and all at once', () => {
  let one: TestDatabase;
  let bulk: TestDatabase;
  let onePool: pg.Pool;
  let bulkPool: pg.Pool;

  beforeAll(async () => {
    [one, bulk] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    onePool = testPool(one.url, 2);
    bulkPool = testPool(bulk.url, 2);
  });
  afterAll(async () => {
    await Promise.all([onePool?.end(), bulkPool?.end()]);
    await Promise.all([one?.drop(), bulk?.drop()]);
  });

  async function both(sql: string, values: unknown[] = []): Promise<void> {
    await Promise.all([onePool.query(sql, values), bulkPool.query(sql, values)]);
  }

  async function rows(pool: pg.Pool): Promise<DbRow[]> {
    const { rows } = await pool.query<DbRow>(
      `SELECT aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id, stripe_checkout_session_id,
              stripe_refund_id, failure_code, failure_message, metadata
       FROM payments ORDER BY aggregate_id`,
    );
    return rows;
  }

  async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  const writes: { write: PaymentWrite; existed: boolean }[] = [
    // Created, every field given.
    {
      existed: false,
      write: {
        aggregateId: 'new-full',
        kind: 'checkout_session',
        status: 'succeeded',
        amount: 2500,
        currency: 'usd',
        idempotencyKey: 'cs:new-full',
        paymentIntentId: 'pi_new_full',
        checkoutSessionId: 'cs_new_full',
        metadata: { trip_id: 'new-full', user_id: 'u', driver_id: 'd' },
      },
    },
    // Created with only what a cancellation knows.
    { existed: false, write: { aggregateId: 'new-tombstone', kind: 'payment_intent', status: 'cancelled', failureMessage: 'cancelled' } },
    // Updated: amount kept, Stripe ids added, failure recorded, metadata merged.
    {
      existed: true,
      write: {
        aggregateId: 'old-pending',
        kind: 'payment_intent',
        status: 'failed',
        paymentIntentId: 'pi_old_pending',
        failureCode: 'insufficient_funds',
        failureMessage: 'Your card has insufficient funds.',
        metadata: { order_id: 'old-pending', extra: 'new' },
      },
    },
    // Updated: a recorded failure is cleared; ids already there are kept.
    {
      existed: true,
      write: {
        aggregateId: 'old-failed',
        kind: 'payment_intent',
        status: 'succeeded',
        failureCode: null,
        failureMessage: null,
        refundId: 're_1',
      },
    },
    // Updated: a cancellation recorded before the charge learns the charge.
    {
      existed: true,
      write: {
        aggregateId: 'old-tombstone',
        kind: 'payment_intent',
        status: 'succeeded',
        amount: 900,
        currency: 'eur',
        idempotencyKey: 'pi:old-tombstone',
        paymentIntentId: 'pi_old_tomb',
      },
    },
  ];

  it('creates and updates rows identically, in one call', async () => {
    await both(
      `INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id, failure_code, failure_message, metadata) VALUES
        ('old-pending', 'payment_intent', 'pending', 1999, 'usd', 'pi:old-pending', NULL, NULL, NULL, '{"order_id":"old-pending","extra":"old","kept":"yes"}'),
        ('old-failed', 'payment_intent', 'failed', 500, 'usd', 'pi:old-failed', 'pi_old_failed', 'card_declined', 'declined', '{}')`,
    );
    await both(
      `INSERT INTO payments (aggregate_id, kind, status, failure_message) VALUES ('old-tombstone', 'payment_intent', 'cancelled', 'cancelled')`,
    );
    const before = new Map((await rows(onePool)).map((row): [string, PaymentRow] => [row.aggregate_id, fromDb(row)]));
    await inTransaction(onePool, async (client) => {
      for (const write of writes) await writePayments(client, [write]);
    });
    await inTransaction(bulkPool, (client) => writePayments(client, writes));
    const expected = await rows(onePool);
    expect(expected).toHaveLength(5);
    expect(await rows(bulkPool)).toEqual(expected);
    // The worker's group commit merges a batch's decisions in memory before it writes: applyWrite must foresee the row.
    const foreseen = writes.map(({ write }) => applyWrite(before.get(write.aggregateId), write));
    expect(expected.map(fromDb)).toEqual(foreseen.sort((a, b) => a.aggregateId.localeCompare(b.aggregateId)));
  });

  it('a create that finds the row already there throws ConcurrentPaymentWriteError naming it, alone or among others', async () => {
    const again = {
      existed: false,
      write: {
        aggregateId: 'new-full',
        kind: 'checkout_session' as const,
        status: 'failed' as const,
        amount: 1,
        currency: 'usd',
        idempotencyKey: 'x',
      },
    };
    const fresh = {
      existed: false,
      write: {
        aggregateId: 'fresh',
        kind: 'payment_intent' as const,
        status: 'succeeded' as const,
        amount: 1,
        currency: 'usd',
        idempotencyKey: 'pi:fresh',
      },
    };
    const single = await inTransaction(onePool, (client) => writePayments(client, [again])).catch((e: unknown) => e);
    const many = await inTransaction(bulkPool, (client) => writePayments(client, [fresh, again])).catch((e: unknown) => e);
    expect(single).toBeInstanceOf(ConcurrentPaymentWriteError);
    expect(many).toBeInstanceOf(ConcurrentPaymentWriteError);
    expect((many as ConcurrentPaymentWriteError).aggregateId).toBe('new-full');
    // Rolled back as a whole: the fresh row is not there either.
    expect((await bulkPool.query(`SELECT 1 FROM payments WHERE aggregate_id = 'fresh'`)).rowCount).toBe(0);
  });
});
