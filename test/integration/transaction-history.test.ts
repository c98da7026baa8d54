import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { transactionHistory } from '../../src/payments/history.js';
import { appendTransactions, type TransactionEntry } from '../../src/payments/transactions.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';

describe('transactionHistory: one user’s entries, newest first, a page at a time', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const base = Date.parse('2026-03-01T12:00:00.000Z');
  const entry = (n: number, extra: Partial<TransactionEntry> = {}): TransactionEntry => ({
    eventId: `ev-${n}`,
    userId: 'rider_p',
    aggregateId: `trip-${n}`,
    kind: 'charge',
    amount: 1000 + n,
    currency: 'usd',
    paymentIntentId: `pi_${n}`,
    // two entries share each second: the cursor must still order and split them
    occurredAt: new Date(base + Math.floor(n / 2) * 1000),
    ...extra,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url);
    await appendTransactions(
      pool,
      Array.from({ length: 25 }, (_, i) => entry(i)),
    );
    await appendTransactions(pool, [
      entry(100, { userId: 'someone_else' }),
      entry(101, { aggregateId: 'trip-0', kind: 'refund', refundId: 're_0', occurredAt: new Date(base + 60_000) }),
      entry(102, { aggregateId: 'trip-j', currency: 'jpy', amount: 500, occurredAt: new Date(base - 60_000) }),
    ]);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('walks every entry exactly once, newest first, across pages of any size', async () => {
    for (const limit of [1, 7, 27, 200]) {
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await transactionHistory(pool, 'rider_p', { limit, ...(before ? { before } : {}) });
        expect(page.transactions.length).toBeLessThanOrEqual(limit);
        seen.push(...page.transactions.map((t) => `${t.kind}:${t.aggregate_id}`));
        if (!page.next_before) break;
        before = page.next_before;
      }
      expect(seen).toHaveLength(27);
      expect(new Set(seen).size).toBe(27);
      expect(seen[0]).toBe('refund:trip-0');
      expect(seen[seen.length - 1]).toBe('charge:trip-j');
    }
  });

  it('gives minor and major units, and the same number for a zero-decimal currency', async () => {
    const page = await transactionHistory(pool, 'rider_p', { limit: 200 });
    expect(page.transactions.find((t) => t.aggregate_id === 'trip-3')).toMatchObject({
      amount_minor: 1003,
      amount: 10.03,
      currency: 'usd',
    });
    expect(page.transactions.find((t) => t.aggregate_id === 'trip-j')).toMatchObject({ amount_minor: 500, amount: 500, currency: 'jpy' });
  });

  it('keeps another user’s entries out, and appends an event or a second charge of one order once', async () => {
    expect((await transactionHistory(pool, 'someone_else')).transactions.map((t) => t.aggregate_id)).toEqual(['trip-100']);
    await appendTransactions(pool, [entry(5), entry(200, { aggregateId: 'trip-5' })]);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM transactions WHERE aggregate_id = 'trip-5'");
    expect(rows[0].n).toBe(1);
  });

  it('refuses a cursor it did not give out and a limit out of range', async () => {
    await expect(transactionHistory(pool, 'rider_p', { before: 'abc' })).rejects.toBeInstanceOf(UsageError);
    await expect(transactionHistory(pool, 'rider_p', { limit: 0 })).rejects.toThrow(/limit must be/);
    await expect(transactionHistory(pool, 'rider_p', { limit: 201 })).rejects.toThrow(/limit must be/);
  });
});
