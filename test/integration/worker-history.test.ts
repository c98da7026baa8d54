import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InboxConsumers } from '../../src/contracts.js';
import { createKafka } from '../../src/kafka/client.js';
import type { HistoryPage } from '../../src/payments/history.js';
import { transactionHistory } from '../../src/payments/history.js';
import { runCli, parseJson } from '../helpers/cli.js';
import type { ConsumedMessage } from '../helpers/kafka.js';
import { startPipeline, parseValue, type Pipeline } from '../helpers/pipeline.js';
import { spawnRole, type RoleProcess } from '../helpers/roles.js';
import { waitFor } from '../helpers/wait.js';

const forKey = (key: string) => (messages: ConsumedMessage[]) => messages.some((m) => m.key === key);

describe('worker history handler: payments.completed / .refunded / .failed → the user’s transactions', () => {
  let pipeline: Pipeline;
  let worker: RoleProcess;

  beforeAll(async () => {
    pipeline = await startPipeline();
    worker = await pipeline.startWorker();
  });
  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(pipeline.logs());
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  const entries = async (aggregateId: string) =>
    (
      await pipeline.pool.query(
        'SELECT kind, user_id, amount::int, currency, event_id FROM transactions WHERE aggregate_id = $1 ORDER BY id',
        [aggregateId],
      )
    ).rows;
  const processed = (result: string) => worker.metric('paymentsctl_worker_messages_processed_total', { handler: 'history', result });

  /** Delivers a message read from Kafka again, headers and all — what a redelivery after a crash looks like to the worker. */
  async function deliverAgain(topic: string, message: ConsumedMessage, times: number): Promise<void> {
    const producer = createKafka({ brokers: pipeline.brokers.split(',') }).producer();
    await producer.connect();
    try {
      for (let i = 0; i < times; i++) {
        await producer.send({
          topic: pipeline.prefix + topic,
          messages: [{ key: message.key, value: message.value, headers: message.headers }],
        });
      }
    } finally {
      await producer.disconnect();
    }
  }

  it('records an order’s charge once under its customer, however often the event is delivered', async () => {
    await pipeline.placeOrders([{ order_id: 'ord-h-1', amount: 2599, currency: 'usd', payment_method: 'pm_card_visa', customer: 'cus_h' }]);
    const completed = (await pipeline.read('payments.completed', forKey('ord-h-1'))).find((m) => m.key === 'ord-h-1')!;
    await waitFor('the charge entry', async () => (await entries('ord-h-1')).length === 1);
    const duplicatesBefore = await processed('duplicate');
    await deliverAgain('payments.completed', completed, 3);
    await waitFor('the three redeliveries to be recognised', async () => (await processed('duplicate')) >= duplicatesBefore + 3);
    const rows = await entries('ord-h-1');
    expect(rows).toEqual([{ kind: 'charge', user_id: 'cus_h', amount: 2599, currency: 'usd', event_id: completed.headers.ce_id }]);
    const inbox = await pipeline.pool.query('SELECT count(*)::int AS n FROM processed_messages WHERE consumer = $1 AND message_id = $2', [
      InboxConsumers.history,
      completed.headers.ce_id,
    ]);
    expect(inbox.rows[0].n).toBe(1);
  });

  it('shows a refund after its charge, newest first, with the refund id', async () => {
    await pipeline.placeOrders([
      { order_id: 'ord-h-2', amount: 4200, currency: 'eur', payment_method: 'pm_card_mastercard', customer: 'cus_r' },
    ]);
    await pipeline.read('payments.completed', forKey('ord-h-2'));
    await pipeline.emit('orders.cancelled', [{ key: 'ord-h-2', data: { order_id: 'ord-h-2', reason: 'customer_request' } }]);
    const refunded = parseValue((await pipeline.read('payments.refunded', forKey('ord-h-2'))).find((m) => m.key === 'ord-h-2')!);
    await waitFor('the refund entry', async () => (await entries('ord-h-2')).length === 2);
    const page = await transactionHistory(pipeline.pool, 'cus_r');
    expect(page.transactions.map((t) => [t.kind, t.aggregate_id, t.amount_minor, t.amount, t.currency])).toEqual([
      ['refund', 'ord-h-2', 4200, 42, 'eur'],
      ['charge', 'ord-h-2', 4200, 42, 'eur'],
    ]);
    expect(page.transactions[0]!.stripe_refund_id).toBe(refunded.refund_id);
    expect(page.transactions[1]!.stripe_payment_intent_id).toMatch(/^pi_/);
    expect(page.next_before).toBeNull();
  });

  it('records a failed trip payment for its rider, while the saga still releases the trip from the same topic', async () => {
    await pipeline.emit('payments.failed', [
      {
        key: 'trip-h-3',
        data: {
          trip_id: 'trip-h-3',
          user_id: 'rider_h',
          amount: 1999,
          currency: 'usd',
          code: 'card_declined',
          reason: 'Your card was declined.',
        },
      },
    ]);
    const cancelled = await pipeline.read('orders.cancelled', forKey('trip-h-3'));
    expect(parseValue(cancelled.find((m) => m.key === 'trip-h-3')!)).toMatchObject({ trip_id: 'trip-h-3', reason: 'payment_failed' });
    await waitFor('the failed entry', async () => (await entries('trip-h-3')).length === 1);
    const page = await transactionHistory(pipeline.pool, 'rider_h');
    expect(page.transactions).toMatchObject([{ kind: 'failed', aggregate_id: 'trip-h-3', amount: 19.99, failure_reason: 'card_declined' }]);
  });

  it('skips an event that names no user, says why in the log, and counts it', async () => {
    const before = await processed('skipped_missing_user');
    await pipeline.emit('payments.completed', [
      { key: 'ord-anon', data: { order_id: 'ord-anon', payment_intent_id: 'pi_anon', amount: 100, currency: 'usd', status: 'succeeded' } },
    ]);
    await waitFor('the skip to be counted', async () => (await processed('skipped_missing_user')) === before + 1);
    expect(await entries('ord-anon')).toEqual([]);
    const line = worker
      .output()
      .split('\n')
      .find((l) => l.includes('ord-anon') && l.includes('skipped'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ aggregateId: 'ord-anon', reason: expect.stringMatching(/charge of ord-anon names no user/) });
  });

  it('serves the history over HTTP on history-serve, and to support staff with paymentsctl history', async () => {
    const serve = await spawnRole(['history-serve', '--host', '127.0.0.1', '--port', '0'], { DATABASE_URL: pipeline.db.url });
    try {
      const base = `http://127.0.0.1:${serve.metricsPort}`;
      const response = await fetch(`${base}/users/cus_r/transactions?limit=1`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/application\/json/);
      const first = (await response.json()) as HistoryPage;
      expect(first.user_id).toBe('cus_r');
      expect(first.transactions.map((t) => t.kind)).toEqual(['refund']);
      expect(first.next_before).toEqual(expect.any(String));
      const second = (await (await fetch(`${base}/users/cus_r/transactions?limit=1&before=${first.next_before}`)).json()) as HistoryPage;
      expect(second.transactions.map((t) => t.kind)).toEqual(['charge']);
      expect(second.next_before).toBeNull();
      expect(((await (await fetch(`${base}/users/nobody/transactions`)).json()) as HistoryPage).transactions).toEqual([]);
      expect((await fetch(`${base}/users/cus_r/transactions?limit=0`)).status).toBe(400);
      expect((await fetch(`${base}/users/cus_r/transactions?limit=abc`)).status).toBe(400);
      const badCursor = await fetch(`${base}/users/cus_r/transactions?before=not-a-cursor`);
      expect(badCursor.status).toBe(400);
      expect(await badCursor.json()).toMatchObject({
        error: { reason: 'bad_request', message: expect.stringMatching(/not a history cursor/) },
      });
      expect((await fetch(`${base}/webhook/stripe`, { method: 'POST' })).status).toBe(404);
      expect(await serve.metric('paymentsctl_history_requests_total', { code: '400' })).toBe(3);
    } finally {
      await serve.kill('SIGTERM');
    }
    expect(serve.process.exitCode).toBe(0);

    const cli = await runCli(['history', '--user', 'cus_r', '--json'], { DATABASE_URL: pipeline.db.url });
    expect(cli.exitCode).toBe(0);
    const page = parseJson<HistoryPage>(cli.stdout);
    expect(page.transactions.map((t) => [t.kind, t.amount_minor])).toEqual([
      ['refund', 4200],
      ['charge', 4200],
    ]);
    const text = await runCli(['history', '--user', 'cus_r', '--limit', '1'], { DATABASE_URL: pipeline.db.url });
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain('refund');
    expect(text.stdout).toContain('ord-h-2');
    expect(text.stdout).toMatch(/--before \S+/);
    const bad = await runCli(['history', '--user', 'cus_r', '--before', 'garbage'], { DATABASE_URL: pipeline.db.url });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('not a history cursor');
    expect((await runCli(['history'], { DATABASE_URL: pipeline.db.url })).exitCode).toBe(2);
  });
});
