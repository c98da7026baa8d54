import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InboxConsumers } from '../../src/contracts.js';
import { startPipeline, parseValue, type Pipeline } from '../helpers/pipeline.js';
import type { ConsumedMessage } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

const forKey = (key: string) => (messages: ConsumedMessage[]) => messages.some((m) => m.key === key);

describe('worker: each handler end to end (outbox → publisher → worker → Stripe emulator → outbox → Kafka)', () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startPipeline();
    await pipeline.startWorker();
  });
  afterEach((context) => {
    if (context.task.result?.state === 'fail') console.log(pipeline.logs());
  });
  afterAll(async () => {
    await pipeline?.close();
  });

  async function paymentRow(id: string) {
    const { rows } = await pipeline.pool.query('SELECT * FROM payments WHERE aggregate_id = $1', [id]);
    return rows[0];
  }

  /** Messages the consumer has applied (its inbox rows). */
  async function applied(consumer: string): Promise<number> {
    const { rows } = await pipeline.pool.query('SELECT count(*)::int AS n FROM processed_messages WHERE consumer = $1', [consumer]);
    return rows[0].n;
  }

  it('charges a placed order once and announces payments.completed', async () => {
    await pipeline.placeOrders([
      { order_id: 'ord-ok-1', amount: 2599, currency: 'USD', payment_method: 'pm_card_visa', customer: 'cus_reader' },
    ]);
    const completed = await pipeline.read('payments.completed', forKey('ord-ok-1'));
    const event = completed.find((m) => m.key === 'ord-ok-1')!;
    expect(event.headers.ce_type).toBe('payments.completed');
    const data = parseValue(event);
    expect(data).toMatchObject({ order_id: 'ord-ok-1', amount: 2599, currency: 'usd', status: 'succeeded' });
    expect(String(data.payment_intent_id)).toMatch(/^pi_/);

    const row = await paymentRow('ord-ok-1');
    expect(row).toMatchObject({
      status: 'succeeded',
      kind: 'payment_intent',
      idempotency_key: 'pi:ord-ok-1',
      stripe_payment_intent_id: data.payment_intent_id,
    });
    expect((await pipeline.charges()).byOrder['ord-ok-1']).toBe(1);
    expect(await applied(InboxConsumers.payments)).toBeGreaterThanOrEqual(1);
  });

  it('records a decline as payments.failed with its code, and the saga releases the order', async () => {
    await pipeline.placeOrders([
      { order_id: 'ord-declined', amount: 1200, currency: 'eur', payment_method: 'pm_card_chargeDeclinedInsufficientFunds' },
    ]);
    const failed = await pipeline.read('payments.failed', forKey('ord-declined'));
    expect(parseValue(failed.find((m) => m.key === 'ord-declined')!)).toMatchObject({
      order_id: 'ord-declined',
      amount: 1200,
      currency: 'eur',
      code: 'card_declined',
      decline_code: 'insufficient_funds',
    });
    const cancelled = await pipeline.read('orders.cancelled', forKey('ord-declined'));
    expect(parseValue(cancelled.find((m) => m.key === 'ord-declined')!)).toEqual({ order_id: 'ord-declined', reason: 'payment_failed' });
    const row = await paymentRow('ord-declined');
    expect(row).toMatchObject({ status: 'failed', failure_code: 'insufficient_funds' });
    // The cancellation finds nothing to refund, and nothing was charged.
    await waitFor('the refund handler to see the cancellation', async () => (await applied(InboxConsumers.sagaRefund)) >= 1);
    expect((await pipeline.charges()).byOrder['ord-declined'] ?? 0).toBe(0);
    expect((await paymentRow('ord-declined')).status).toBe('failed');
  });

  it('refunds a paid order that is cancelled, once, and announces payments.refunded', async () => {
    await pipeline.placeOrders([{ order_id: 'ord-refund', amount: 4200, currency: 'usd', payment_method: 'pm_card_mastercard' }]);
    await pipeline.read('payments.completed', forKey('ord-refund'));
    // The application cancels the order twice (a retried request): one refund.
    await pipeline.emit('orders.cancelled', [{ key: 'ord-refund', data: { order_id: 'ord-refund', reason: 'customer_request' } }]);
    await pipeline.emit('orders.cancelled', [{ key: 'ord-refund', data: { order_id: 'ord-refund', reason: 'customer_request' } }]);
    const refunded = await pipeline.read('payments.refunded', forKey('ord-refund'));
    const data = parseValue(refunded.find((m) => m.key === 'ord-refund')!);
    expect(data).toMatchObject({ order_id: 'ord-refund', amount: 4200, currency: 'usd' });
    expect(String(data.refund_id)).toMatch(/^re_/);
    await waitFor('both cancellations to be handled', async () => (await applied(InboxConsumers.sagaRefund)) >= 3);
    expect(await paymentRow('ord-refund')).toMatchObject({ status: 'refunded', stripe_refund_id: data.refund_id });
    const report = await pipeline.charges();
    expect(report.details.byOrder['ord-refund']).toMatchObject({ succeededCharges: 1, amountRefunded: 4200 });
    const again = await pipeline.read('payments.refunded', (messages) => messages.length > 0);
    expect(again.filter((m) => m.key === 'ord-refund')).toHaveLength(1);
  });

  it('a cancellation that overtakes the order stops the charge', async () => {
    await pipeline.emit('orders.cancelled', [
      { key: 'ord-early-cancel', data: { order_id: 'ord-early-cancel', reason: 'customer_request' } },
    ]);
    await waitFor('the tombstone', async () => (await paymentRow('ord-early-cancel'))?.status === 'cancelled');
    await pipeline.placeOrders([{ order_id: 'ord-early-cancel', amount: 999, currency: 'usd', payment_method: 'pm_card_visa' }]);
    await waitFor('the order to be consumed', async () => (await applied(InboxConsumers.payments)) >= 4);
    expect((await pipeline.charges()).byOrder['ord-early-cancel'] ?? 0).toBe(0);
    expect((await paymentRow('ord-early-cancel')).status).toBe('cancelled');
  });

  it('creates a Checkout Session for a trip and announces it with the metadata and a major-unit amount', async () => {
    await pipeline.emit('checkout.requested', [
      { key: 'trip-1', data: { trip_id: 'trip-1', user_id: 'rider-7', driver_id: 'driver-3', amount: 1999, currency: 'usd' } },
      { key: 'trip-2', data: { trip_id: 'trip-2', user_id: 'rider-8', driver_id: 'driver-4', amount: 500, currency: 'jpy' } },
    ]);
    const created = await pipeline.read(
      'payments.checkout_session_created',
      (messages) => forKey('trip-1')(messages) && forKey('trip-2')(messages),
    );
    const trip1 = parseValue(created.find((m) => m.key === 'trip-1')!);
    expect(trip1).toMatchObject({
      trip_id: 'trip-1',
      user_id: 'rider-7',
      driver_id: 'driver-3',
      amount: 19.99,
      amount_minor: 1999,
      currency: 'usd',
    });
    expect(String(trip1.session_id)).toMatch(/^cs_/);
    expect(String(trip1.url)).toMatch(/^http/);
    expect(parseValue(created.find((m) => m.key === 'trip-2')!)).toMatchObject({ amount: 500, amount_minor: 500, currency: 'jpy' });

    const session = (await (
      await fetch(`${pipeline.emulator.url}/v1/checkout/sessions/${trip1.session_id}`, { headers: { authorization: 'Bearer sk_test_x' } })
    ).json()) as {
      metadata: Record<string, string>;
      amount_total: number;
    };
    expect(session.metadata).toMatchObject({ trip_id: 'trip-1', user_id: 'rider-7', driver_id: 'driver-3' });
    expect(session.amount_total).toBe(1999);
    expect(await paymentRow('trip-1')).toMatchObject({
      status: 'pending',
      kind: 'checkout_session',
      stripe_checkout_session_id: trip1.session_id,
      idempotency_key: 'cs:trip-1',
    });
  });

  it('exits 3 when it cannot join its consumer group, instead of running unready for ever', { timeout: 60_000 }, async () => {
    // The broker refuses a session timeout above group.max.session.timeout.ms (30 min). kafkajs
    // reports that as a crash after the consumer has started, the way it reports a group
    // coordinator that cannot be found on a broker still loading.
    // It never gets ready: wait only for it to serve its probes.
    const worker = await pipeline.startWorker(['--group', 'worker-flows-unjoinable', '--session-timeout', '40m'], { until: 'serving' });
    const result = await worker.process;
    expect(result.exitCode).toBe(3);
    expect(worker.output()).toContain('session timeout is not within the range allowed by the broker');
    expect(worker.output()).toContain('"msg":"stopped"');
  });
});
