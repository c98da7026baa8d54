import pLimit from 'p-limit';
import type pg from 'pg';
import { abortableSleep, Backoff } from '../backoff.js';
import { withTransactionClient } from '../db/connect.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { enqueue } from '../outbox/enqueue.js';
import type { PlannedOrder } from './plan.js';

/**
 * The application side of a `dev` run: a small shop that records each order in its own table and
 * emits the order's event through the outbox in the same transaction — the way a real service
 * uses `enqueue`.
 */

export async function createShopTable(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS dev_orders (
    aggregate_id text PRIMARY KEY,
    flow         text NOT NULL,
    pays         boolean NOT NULL,
    amount       bigint NOT NULL,
    currency     text NOT NULL,
    placed_at    timestamptz NOT NULL DEFAULT now()
  )`);
}

/** The orders the shop committed: the ground truth every outcome is checked against. */
export async function committedOrders(pool: pg.Pool): Promise<{ aggregateId: string; pays: boolean }[]> {
  const result = await pool.query<{ aggregate_id: string; pays: boolean }>(
    'SELECT aggregate_id, pays FROM dev_orders ORDER BY aggregate_id',
  );
  return result.rows.map((row) => ({ aggregateId: row.aggregate_id, pays: row.pays }));
}

export interface PlaceOptions {
  /** orders per second; 0 places them as fast as the connections allow */
  ratePerSecond: number;
  /** transactions in flight at once */
  concurrency: number;
  signal: AbortSignal;
  onPlaced: () => void;
}

/**
 * Places the orders at a steady rate, each in its own application transaction. The first order
 * that cannot be placed stops the placing, and its error is thrown once those in flight are done.
 */
export async function placeOrders(pool: pg.Pool, orders: readonly PlannedOrder[], options: PlaceOptions): Promise<void> {
  const limit = pLimit(options.concurrency);
  const started = Date.now();
  let failure: { error: unknown } | undefined;
  const place = (order: PlannedOrder) =>
    limit(async () => {
      if (options.signal.aborted || failure) return;
      try {
        await placeRidingOutOutages(pool, order, options.signal);
      } catch (error) {
        // Recorded inside the task, before the next queued one starts and looks at it; and never a
        // rejection that nobody awaits yet, which would end the process.
        failure ??= { error };
        return;
      }
      options.onPlaced();
    });
  const inFlight: Promise<void>[] = [];
  for (const [i, order] of orders.entries()) {
    if (options.signal.aborted || failure) break;
    if (options.ratePerSecond > 0) {
      const dueAt = started + (i * 1000) / options.ratePerSecond;
      if (dueAt > Date.now()) await abortableSleep(dueAt - Date.now(), [options.signal]);
    }
    inFlight.push(place(order));
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
}

/**
 * Places one order, trying again while PostgreSQL is away (a restart, a failover), as a shop would.
 * A COMMIT whose answer was lost may have committed: the retry then finds the order and stops.
 */
async function placeRidingOutOutages(pool: pg.Pool, order: PlannedOrder, signal: AbortSignal): Promise<void> {
  const backoff = new Backoff(100, 2_000);
  for (;;) {
    try {
      await placeOne(pool, order);
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error) || signal.aborted) throw error;
      await backoff.wait([signal]);
    }
  }
}

/** One order and its event, in one application transaction; nothing if the order is already placed. */
async function placeOne(pool: pg.Pool, order: PlannedOrder): Promise<void> {
  await withTransactionClient(pool, async (client) => {
    const { data } = order;
    // The order and its event commit together or not at all: that is the outbox's promise.
    await client.query('BEGIN');
    const inserted = await client.query(
      'INSERT INTO dev_orders (aggregate_id, flow, pays, amount, currency) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (aggregate_id) DO NOTHING',
      [order.aggregateId, order.flow, order.pays, data.amount, data.currency],
    );
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK');
      return;
    }
    await enqueue(client, { topic: order.topic, key: order.aggregateId, type: order.topic, data });
    await client.query('COMMIT');
  });
}
