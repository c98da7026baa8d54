import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { planOrders, type PlannedOrder } from '../../src/dev/plan.js';
import { committedOrders, createShopTable, placeOrders } from '../../src/dev/shop.js';
import { createTestDatabase, testPool, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = testPool(db.url);
  await createShopTable(pool);
});

afterAll(async () => {
  await pool.end();
  await db.drop();
});

beforeEach(async () => {
  await pool.query('TRUNCATE dev_orders, outbox');
});

const plan = (count: number) => planOrders({ count, declineRate: 0.2, checkoutShare: 0.3, seed: 5, runId: 'shop' });
const options = (placed: string[] = []) => ({
  ratePerSecond: 0,
  concurrency: 4,
  signal: new AbortController().signal,
  onPlaced: () => placed.push('x'),
});

async function outboxKeys(): Promise<string[]> {
  const result = await pool.query<{ key: string }>('SELECT key FROM outbox ORDER BY key');
  return result.rows.map((row) => row.key);
}

describe('the dev shop places orders through the outbox', () => {
  it('commits every order with exactly one outbox event for it', async () => {
    const orders = plan(40);
    const placed: string[] = [];
    await placeOrders(pool, orders, options(placed));

    const committed = await committedOrders(pool);
    expect(committed.map((order) => order.aggregateId)).toEqual(orders.map((order) => order.aggregateId).sort());
    expect(await outboxKeys()).toEqual(orders.map((order) => order.aggregateId).sort());
    expect(placed).toHaveLength(40);
  });

  it('rolls an order back with its event when the event cannot be written, and stops placing', async () => {
    const orders = plan(30);
    // A topic name Kafka would refuse: enqueue throws after the order row was inserted.
    const broken: PlannedOrder = { ...orders[9]!, topic: 'not a topic!' as PlannedOrder['topic'] };
    const withBroken = [...orders.slice(0, 9), broken, ...orders.slice(10)];

    await expect(placeOrders(pool, withBroken, { ...options(), ratePerSecond: 500, concurrency: 1 })).rejects.toThrow(/topic/);

    const committed = (await committedOrders(pool)).map((order) => order.aggregateId);
    expect(committed).not.toContain(broken.aggregateId);
    // Every committed order has its event, and no event lacks its order.
    expect(await outboxKeys()).toEqual(committed);
    // Placing stopped at the failure instead of carrying on with the rest.
    expect(committed.length).toBe(9);
  });
});
