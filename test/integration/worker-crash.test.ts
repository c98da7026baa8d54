import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPipeline, type Order, type Pipeline } from '../helpers/pipeline.js';
import type { ConsumedMessage } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';
import type { RoleProcess } from '../helpers/roles.js';

const ORDERS = 400;
const FAULTS = { errorRate: 0.05, errorStatus: 500 as const, errorAfterRunRate: 0.5, resetRate: 0.03, timeoutRate: 0.02, timeoutMs: 0 };

describe('worker: three replicas, one SIGKILLed mid-run, Stripe faults on', () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startPipeline({ partitions: 6, retryLevels: 5, faults: FAULTS, seed: 11 });
  });
  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(pipeline.logs());
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  it('every order reaches exactly one outcome, and no order is charged twice', { timeout: 300_000 }, async () => {
    const args = ['--retry-delays', '300ms,600ms,1s,2s,3s', '--stripe-timeout', '1s', '--session-timeout', '6s', '--concurrency', '16'];
    const workers: RoleProcess[] = [];
    for (let i = 0; i < 3; i++) workers.push(await pipeline.startWorker(args));

    const orders: Order[] = Array.from({ length: ORDERS }, (_, i) => ({
      order_id: `ord-${String(i).padStart(4, '0')}`,
      amount: 1000 + i,
      currency: 'usd',
      payment_method: i % 5 === 0 ? 'pm_card_chargeDeclined' : 'pm_card_visa',
    }));
    const declined = new Set(orders.filter((o) => o.payment_method !== 'pm_card_visa').map((o) => o.order_id));
    const settledCount = async () =>
      Number((await pipeline.pool.query(`SELECT count(*) FROM payments WHERE status IN ('succeeded', 'failed')`)).rows[0].count);

    for (let i = 0; i < ORDERS; i += 50) await pipeline.placeOrders(orders.slice(i, i + 50));
    // Kill one replica while the orders are being charged.
    await waitFor('a third of the orders', async () => (await settledCount()) >= ORDERS / 3, 120_000);
    await workers[1]!.kill('SIGKILL');
    await waitFor('every order to settle', async () => (await settledCount()) === ORDERS, 200_000);

    const completed = await pipeline.read('payments.completed', (m) => distinctKeys(m) >= ORDERS - declined.size, 60_000);
    const failed = await pipeline.read('payments.failed', (m) => distinctKeys(m) >= declined.size, 60_000);
    const cancelled = await pipeline.read('orders.cancelled', (m) => distinctKeys(m) >= declined.size, 60_000);

    // One outcome event per order (distinct event ids: a redelivered copy of the same event is allowed by at-least-once Kafka).
    const eventIdsByOrder = new Map<string, Set<string>>();
    for (const message of [...completed, ...failed]) {
      const ids = eventIdsByOrder.get(message.key) ?? new Set();
      ids.add(message.headers.ce_id!);
      eventIdsByOrder.set(message.key, ids);
    }
    for (const order of orders) {
      expect(eventIdsByOrder.get(order.order_id)?.size, order.order_id).toBe(1);
      const inFailed = failed.some((m) => m.key === order.order_id);
      expect(inFailed, order.order_id).toBe(declined.has(order.order_id));
    }
    // Every decline was compensated.
    for (const id of declined)
      expect(
        cancelled.some((m) => m.key === id),
        id,
      ).toBe(true);

    const { rows } = await pipeline.pool.query<{ aggregate_id: string; status: string }>('SELECT aggregate_id, status FROM payments');
    const succeededRows = rows.filter((r) => r.status === 'succeeded').map((r) => r.aggregate_id);
    expect(succeededRows.length).toBe(ORDERS - declined.size);

    const report = await pipeline.charges();
    expect(report.duplicates.orders).toEqual([]);
    expect(Object.values(report.byOrder).every((n) => n <= 1)).toBe(true);
    expect(Object.entries(report.byOrder).filter(([, n]) => n === 1).length).toBe(succeededRows.length);

    const survivors = [workers[0]!, workers[2]!];
    let duplicates = 0;
    let retried = 0;
    for (const worker of survivors) {
      duplicates += await worker.metric('paymentsctl_worker_messages_processed_total', { result: 'duplicate' });
      retried += await worker.metric('paymentsctl_worker_messages_retried_total');
    }
    console.log(
      `worker crash run: ${ORDERS} orders, 1 worker SIGKILLed, ${retried} retries (survivors), ${duplicates} duplicate deliveries absorbed`,
    );
  });
});

function distinctKeys(messages: ConsumedMessage[]): number {
  return new Set(messages.map((m) => m.key)).size;
}
