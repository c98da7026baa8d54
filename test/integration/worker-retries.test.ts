import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { createKafka } from '../../src/kafka/client.js';
import { FailureHeaders } from '../../src/worker/headers.js';
import { startPipeline, parseValue, type Pipeline } from '../helpers/pipeline.js';
import type { ConsumedMessage } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';
import type { RoleProcess } from '../helpers/roles.js';

const forKey = (key: string) => (messages: ConsumedMessage[]) => messages.some((m) => m.key === key);
const NO_FAULTS = { errorRate: 0, errorAfterRunRate: 0, resetRate: 0, timeoutRate: 0 };

describe('worker: broker-level retries and dead letters', () => {
  let pipeline: Pipeline;
  const workers: RoleProcess[] = [];

  // Short delays keep the suite quick; the schedule itself is what is under test.
  const startWorker = async (args: string[] = []) => {
    const worker = await pipeline.startWorker([
      '--handlers',
      'payments',
      '--retry-delays',
      '300ms,600ms,900ms',
      '--stripe-timeout',
      '1s',
      '--session-timeout',
      '6s',
      ...args,
    ]);
    workers.push(worker);
    return worker;
  };

  beforeAll(async () => {
    pipeline = await startPipeline();
  });
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') console.log(pipeline.logs());
    pipeline.emulator.setFaults(NO_FAULTS);
    // A graceful stop leaves the group at once, so the next test's worker is assigned without waiting.
    await Promise.all(workers.splice(0).map((w) => (w.process.exitCode === null ? w.kill('SIGTERM') : undefined)));
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  const paymentRow = async (id: string) => (await pipeline.pool.query('SELECT * FROM payments WHERE aggregate_id = $1', [id])).rows[0];

  it('a 500 Stripe stored under the key is retried through the retry topic, on a new key once none was charged', async () => {
    const worker = await startWorker();
    pipeline.emulator.setFaults({ errorRate: 1, errorStatus: 500, errorAfterRunRate: 0 });
    await pipeline.placeOrders([{ order_id: 'ord-500-before', amount: 1500, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await waitFor('a retry', async () => (await worker.metric('paymentsctl_worker_messages_retried_total')) >= 1);
    pipeline.emulator.setFaults(NO_FAULTS);
    await pipeline.read('payments.completed', forKey('ord-500-before'));
    // pi:<order> holds the stored 500; the lookup proved it charged nothing, so the next key ran.
    expect(await paymentRow('ord-500-before')).toMatchObject({ status: 'succeeded', idempotency_key: 'pi:ord-500-before:2' });
    const report = await pipeline.charges();
    expect(report.byOrder['ord-500-before']).toBe(1);
    expect(report.duplicates.orders).toEqual([]);
  });

  it('a 500 after Stripe did the work is found by lookup, not charged again', async () => {
    const worker = await startWorker();
    pipeline.emulator.setFaults({ errorRate: 1, errorStatus: 500, errorAfterRunRate: 1 });
    await pipeline.placeOrders([{ order_id: 'ord-500-after', amount: 1600, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await waitFor('a retry', async () => (await worker.metric('paymentsctl_worker_messages_retried_total')) >= 1);
    pipeline.emulator.setFaults(NO_FAULTS);
    const completed = await pipeline.read('payments.completed', forKey('ord-500-after'));
    expect(completed.filter((m) => m.key === 'ord-500-after')).toHaveLength(1);
    expect(await paymentRow('ord-500-after')).toMatchObject({ status: 'succeeded', idempotency_key: 'pi:ord-500-after' });
    expect((await pipeline.charges()).byOrder['ord-500-after']).toBe(1);
  });

  it('a Stripe timeout is retried with the same key and charges once', async () => {
    const worker = await startWorker();
    pipeline.emulator.setFaults({ timeoutRate: 1, timeoutMs: 0 });
    await pipeline.placeOrders([{ order_id: 'ord-timeout', amount: 1700, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await waitFor('a retry', async () => (await worker.metric('paymentsctl_worker_messages_retried_total')) >= 1);
    pipeline.emulator.setFaults(NO_FAULTS);
    await pipeline.read('payments.completed', forKey('ord-timeout'));
    expect(await paymentRow('ord-timeout')).toMatchObject({ status: 'succeeded', idempotency_key: 'pi:ord-timeout' });
    expect((await pipeline.charges()).byOrder['ord-timeout']).toBe(1);
  });

  it('a payment that keeps failing ends in the dead letters with the reason headers, after every retry topic', async () => {
    const worker = await startWorker();
    pipeline.emulator.setFaults({ errorRate: 1, errorStatus: 429 });
    await pipeline.placeOrders([{ order_id: 'ord-always-failing', amount: 1800, currency: 'usd', payment_method: 'pm_card_visa' }]);
    const dead = await pipeline.read('orders.placed.dlq', forKey('ord-always-failing'));
    const letter = dead.find((m) => m.key === 'ord-always-failing')!;
    expect(parseValue(letter)).toMatchObject({ order_id: 'ord-always-failing', amount: 1800 });
    expect(letter.headers).toMatchObject({
      [FailureHeaders.attempts]: '4',
      [FailureHeaders.deadLetterReason]: 'retries_exhausted',
      [FailureHeaders.errorKind]: 'transient',
      [FailureHeaders.originalTopic]: `${pipeline.prefix}orders.placed`,
      ce_type: 'orders.placed',
    });
    expect(letter.headers[FailureHeaders.error]).toMatch(/rate limit|429|too many/i);
    expect(Number(letter.headers[FailureHeaders.originalPartition])).toBeGreaterThanOrEqual(0);
    expect(Number(letter.headers[FailureHeaders.originalOffset])).toBeGreaterThanOrEqual(0);
    for (const level of [1, 2, 3]) {
      expect(await worker.metric('paymentsctl_worker_messages_retried_total', { level: String(level) })).toBeGreaterThanOrEqual(1);
      const copies = await pipeline.read(`orders.placed.retry.${level}`, forKey('ord-always-failing'));
      expect(copies.find((m) => m.key === 'ord-always-failing')!.headers[FailureHeaders.attempts]).toBe(String(level));
    }
    expect(await paymentRow('ord-always-failing')).toBeUndefined();
    expect((await pipeline.charges()).byOrder['ord-always-failing'] ?? 0).toBe(0);
  });

  it('poison messages go straight to the dead letters with the reason, and the next order still flows', async () => {
    await startWorker();
    const producer = createKafka({ brokers: pipeline.brokers.split(',') }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: `${pipeline.prefix}orders.placed`,
      messages: [
        { key: 'poison-json', value: '{"order_id": "poison-json", amount' },
        {
          key: 'poison-schema',
          value: JSON.stringify({ order_id: 'poison-schema', amount: -5, currency: 'dollars' }),
          headers: { ce_id: 'poison-schema-1' },
        },
      ],
    });
    await producer.disconnect();
    await pipeline.placeOrders([{ order_id: 'ord-after-poison', amount: 1900, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await pipeline.read('payments.completed', forKey('ord-after-poison'));
    const dead = await pipeline.read(
      'orders.placed.dlq',
      (messages) => forKey('poison-json')(messages) && forKey('poison-schema')(messages),
    );
    const json = dead.find((m) => m.key === 'poison-json')!;
    expect(json.headers).toMatchObject({ [FailureHeaders.deadLetterReason]: 'invalid_message', [FailureHeaders.attempts]: '1' });
    expect(json.headers[FailureHeaders.error]).toMatch(/not JSON/);
    expect(json.value).toBe('{"order_id": "poison-json", amount');
    const schema = dead.find((m) => m.key === 'poison-schema')!;
    expect(schema.headers[FailureHeaders.error]).toMatch(/amount/);
    expect(schema.headers[FailureHeaders.error]).toMatch(/payment_method/);
    expect(schema.headers.ce_id).toBe('poison-schema-1');
  });

  it('a message waiting in a retry topic survives the worker being killed, and is processed after restart', async () => {
    const first = await startWorker(['--retry-delays', '8s']);
    pipeline.emulator.setFaults({ errorRate: 1, errorStatus: 429 });
    await pipeline.placeOrders([{ order_id: 'ord-wait-kill', amount: 2000, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await waitFor('the move to the retry topic', async () => (await first.metric('paymentsctl_worker_messages_retried_total')) >= 1);
    await first.kill('SIGKILL');
    pipeline.emulator.setFaults(NO_FAULTS);
    expect(await paymentRow('ord-wait-kill')).toBeUndefined();
    const second = await startWorker();
    await pipeline.read('payments.completed', forKey('ord-wait-kill'));
    expect(await second.metric('paymentsctl_worker_messages_processed_total', { result: 'succeeded' })).toBe(1);
    expect((await pipeline.charges()).byOrder['ord-wait-kill']).toBe(1);
  });
});
