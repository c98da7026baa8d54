import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';
import { enqueue, enqueueMany } from '../../src/outbox/enqueue.js';
import { UsageError } from '../../src/errors.js';
import { OUTBOX_KEY_LOCK_NAMESPACE } from '../../src/db/locks.js';
import { waitFor } from '../helpers/wait.js';

describe('enqueue', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = testPool(db.url, 6);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  async function inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>, commit = true): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } finally {
      client.release();
    }
  }

  it("writes the event in the caller's transaction: nothing if it rolls back", async () => {
    const rolledBack = await inTransaction(
      (c) => enqueue(c, { topic: 'orders.placed', key: 'o-rb', type: 'orders.placed', data: { a: 1 } }),
      false,
    );
    const committed = await inTransaction((c) =>
      enqueue(c, {
        topic: 'orders.placed',
        key: 'o-1',
        type: 'orders.placed',
        data: { order_id: 'o-1', amount: 1999, currency: 'eur' },
        headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        source: 'bookstore/orders',
      }),
    );
    const rows = (await pool.query('SELECT event_id::text, key, type, payload, headers, published_at FROM outbox ORDER BY id')).rows;
    expect(rows.map((r) => r.event_id)).not.toContain(rolledBack);
    expect(rows).toContainEqual({
      event_id: committed,
      key: 'o-1',
      type: 'orders.placed',
      payload: { order_id: 'o-1', amount: 1999, currency: 'eur' },
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', ce_source: 'bookstore/orders' },
      published_at: null,
    });
  });

  it("enqueueMany returns ids in the order given and keeps each key's events in that order", async () => {
    const ids = await inTransaction((c) =>
      enqueueMany(c, [
        { topic: 'orders.placed', key: 'k-b', type: 't', data: { seq: 1 } },
        { topic: 'orders.placed', key: 'k-a', type: 't', data: { seq: 2 } },
        { topic: 'orders.placed', key: 'k-b', type: 't', data: { seq: 3 } },
      ]),
    );
    const rows = (
      await pool.query<{ event_id: string; key: string; seq: number }>(
        `SELECT event_id::text, key, (payload->>'seq')::int AS seq FROM outbox WHERE event_id = ANY($1::uuid[]) ORDER BY id`,
        [ids],
      )
    ).rows;
    expect(rows.filter((r) => r.key === 'k-b').map((r) => r.seq)).toEqual([1, 3]);
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(ids));
  });

  it('rejects malformed messages before touching the database', async () => {
    const client = await pool.connect();
    try {
      await expect(enqueue(client, { topic: 'bad topic!', key: 'k', type: 't', data: {} })).rejects.toBeInstanceOf(UsageError);
      await expect(enqueue(client, { topic: 't', key: '', type: 't', data: {} })).rejects.toThrow(/key/);
      await expect(enqueue(client, { topic: 't', key: 'k', type: 't', data: undefined })).rejects.toThrow(/data/);
      await expect(enqueue(client, { topic: 't', key: 'k', type: 't', data: {}, headers: { ce_id: 'x' } })).rejects.toThrow(
        /set by the publisher/,
      );
    } finally {
      client.release();
    }
  });

  it("gives a key's events ids in commit order even when transactions start in the other order", async () => {
    const first = await pool.connect();
    const second = await pool.connect();
    try {
      await first.query('BEGIN');
      await enqueue(first, { topic: 'orders.placed', key: 'k-race', type: 't', data: { by: 'first' } });
      // The second transaction writes the same key: it must wait for the first to end.
      await second.query('BEGIN');
      let secondDone = false;
      const secondWrite = enqueue(second, { topic: 'orders.placed', key: 'k-race', type: 't', data: { by: 'second' } }).then(() => {
        secondDone = true;
      });
      // It waits on the key's lock (it cannot draw an id and commit ahead of the first)...
      await waitFor(
        'the second writer to wait on the key lock',
        async () =>
          ((
            await pool.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1`, [
              OUTBOX_KEY_LOCK_NAMESPACE,
            ])
          ).rowCount ?? 0) > 0,
      );
      // ...while another key is not held up.
      await inTransaction((c) => enqueue(c, { topic: 'orders.placed', key: 'k-other', type: 't', data: {} }));
      expect(secondDone).toBe(false);
      await first.query('COMMIT');
      await secondWrite;
      await second.query('COMMIT');
      const order = (await pool.query<{ by: string }>(`SELECT payload->>'by' AS by FROM outbox WHERE key = 'k-race' ORDER BY id`)).rows;
      expect(order.map((r) => r.by)).toEqual(['first', 'second']);
    } finally {
      first.release();
      second.release();
    }
  });
});
