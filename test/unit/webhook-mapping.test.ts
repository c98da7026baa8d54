import { describe, expect, it } from 'vitest';
import { parseStripeEvent, planEvent, type EventPlan, type StripeEvent } from '../../src/webhook/mapping.js';
import { eventIdFor, pipelineEvent, type PaymentChange } from '../../src/payments/decisions/webhook-event.js';
import type { PaymentRow } from '../../src/payments/row.js';
import { charge, checkoutSession, paymentIntent, stripeEvent } from '../helpers/webhook.js';

const TRIP = { trip_id: 'trip-1', user_id: 'user-1', driver_id: 'driver-1' };

function plan(type: string, object: Record<string, unknown>): EventPlan {
  return planEvent(stripeEvent(type, object) as unknown as StripeEvent);
}

function change(result: EventPlan): PaymentChange {
  if (result.action !== 'apply') throw new Error(`expected a change, got ${JSON.stringify(result)}`);
  return result.change;
}

const row = (fields: Partial<PaymentRow>): PaymentRow => ({
  aggregateId: 'agg',
  kind: 'payment_intent',
  status: 'pending',
  amount: 1000,
  currency: 'usd',
  idempotencyKey: 'pi:agg',
  paymentIntentId: null,
  checkoutSessionId: null,
  refundId: null,
  failureCode: null,
  failureMessage: null,
  metadata: {},
  ...fields,
});

describe('parseStripeEvent', () => {
  it('takes a JSON object with id, type and data.object, and nothing else', () => {
    expect(parseStripeEvent(Buffer.from(JSON.stringify(stripeEvent('x.y', { id: 'o' }, 'evt_1'))))?.id).toBe('evt_1');
    for (const body of [
      '',
      'not json',
      '[]',
      'null',
      '"evt"',
      '{"id":"evt_1","type":"x"}',
      '{"id":"","type":"x","data":{"object":{}}}',
      '{"id":"evt_1","type":"x","data":{"object":[]}}',
      '{"id":1,"type":"x","data":{"object":{}}}',
    ]) {
      expect(parseStripeEvent(Buffer.from(body)), body).toBeUndefined();
    }
  });
});

describe('planEvent: the mapping table', () => {
  it('checkout.session.completed and paid → succeeded, with trip, rider and driver rehydrated from the session metadata', () => {
    const session = checkoutSession({ metadata: { ...TRIP, extra: 'kept out' }, paymentIntent: 'pi_1', amount: 2500 });
    const c = change(plan('checkout.session.completed', session));
    expect(c).toMatchObject({
      next: 'succeeded',
      aggregateId: 'trip-1',
      paymentIntentId: 'pi_1',
      checkoutSessionId: session.id,
      kind: 'checkout_session',
      idempotencyKey: 'cs:trip-1',
      amount: 2500,
      currency: 'usd',
      ids: TRIP,
    });
    expect(pipelineEvent(c, 'trip-1', undefined)).toEqual({
      topic: 'payments.completed',
      key: 'trip-1',
      data: { ...TRIP, payment_intent_id: 'pi_1', session_id: session.id, amount: 2500, currency: 'usd', status: 'succeeded' },
    });
  });

  it('checkout.session.completed not yet paid (a delayed method) waits for async_payment_*; no payment needed is not announced', () => {
    expect(plan('checkout.session.completed', checkoutSession({ metadata: TRIP, paymentStatus: 'unpaid' }))).toEqual({
      action: 'ignore',
      outcome: 'awaiting_payment',
    });
    expect(
      plan('checkout.session.completed', checkoutSession({ metadata: TRIP, paymentStatus: 'no_payment_required', paymentIntent: null })),
    ).toEqual({ action: 'ignore', outcome: 'no_payment_required' });
  });

  it('async_payment_succeeded → succeeded; async_payment_failed and expired → failed with a reason', () => {
    expect(change(plan('checkout.session.async_payment_succeeded', checkoutSession({ metadata: TRIP }))).next).toBe('succeeded');
    const failed = change(plan('checkout.session.async_payment_failed', checkoutSession({ metadata: TRIP, paymentStatus: 'unpaid' })));
    expect(failed).toMatchObject({ next: 'failed', failure: { reason: 'checkout_session_async_payment_failed' } });
    const expired = change(
      plan(
        'checkout.session.expired',
        checkoutSession({ metadata: TRIP, paymentIntent: null, paymentStatus: 'unpaid', status: 'expired' }),
      ),
    );
    expect(expired).toMatchObject({ next: 'failed', failure: { reason: 'checkout_session_expired' } });
    expect(pipelineEvent(expired, 'trip-1', undefined)).toMatchObject({
      topic: 'payments.failed',
      key: 'trip-1',
      data: { ...TRIP, amount: 2500, currency: 'usd', reason: 'checkout_session_expired' },
    });
    expect(pipelineEvent(expired, 'trip-1', undefined).data).not.toHaveProperty('payment_intent_id');
  });

  it('a session without trip_id, user_id or driver_id is not announced, naming what is missing', () => {
    expect(plan('checkout.session.completed', checkoutSession({ id: 'cs_x', metadata: { trip_id: 'trip-2' } }))).toEqual({
      action: 'missing_metadata',
      missing: ['user_id', 'driver_id'],
      object: 'cs_x',
    });
    expect(plan('checkout.session.expired', checkoutSession({ id: 'cs_y', metadata: {} }))).toEqual({
      action: 'missing_metadata',
      missing: ['trip_id', 'user_id', 'driver_id'],
      object: 'cs_y',
    });
    // Blank values are missing values.
    expect(plan('checkout.session.completed', checkoutSession({ id: 'cs_z', metadata: { ...TRIP, user_id: '  ' } }))).toMatchObject({
      missing: ['user_id'],
    });
  });

  it('a bookstore-style session names its order: order_id is the aggregate and is all it needs', () => {
    const c = change(
      plan('checkout.session.completed', checkoutSession({ metadata: { order_id: 'order-9', trip_id: 'order-9' }, paymentIntent: 'pi_9' })),
    );
    expect(c).toMatchObject({ aggregateId: 'order-9', kind: 'checkout_session', ids: { order_id: 'order-9', trip_id: 'order-9' } });
  });

  it('payment_intent.succeeded → succeeded (amount received), keyed by order_id; payment_failed → failed with the decline', () => {
    const ok = change(plan('payment_intent.succeeded', paymentIntent({ id: 'pi_2', metadata: { order_id: 'order-2' }, amount: 1999 })));
    expect(ok).toMatchObject({
      next: 'succeeded',
      aggregateId: 'order-2',
      paymentIntentId: 'pi_2',
      kind: 'payment_intent',
      idempotencyKey: 'pi:order-2',
      amount: 1999,
    });
    expect(pipelineEvent(ok, 'order-2', undefined).data).toMatchObject({
      order_id: 'order-2',
      payment_intent_id: 'pi_2',
      amount: 1999,
      status: 'succeeded',
    });

    const declined = paymentIntent({
      metadata: { order_id: 'order-3' },
      status: 'requires_payment_method',
      lastPaymentError: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    });
    const failed = change(plan('payment_intent.payment_failed', declined));
    expect(failed).toMatchObject({
      next: 'failed',
      aggregateId: 'order-3',
      failure: { reason: 'Your card has insufficient funds.', code: 'card_declined', declineCode: 'insufficient_funds' },
    });
    expect(pipelineEvent(failed, 'order-3', undefined)).toMatchObject({
      topic: 'payments.failed',
      data: {
        order_id: 'order-3',
        code: 'card_declined',
        decline_code: 'insufficient_funds',
        reason: 'Your card has insufficient funds.',
        amount: 1999,
      },
    });
  });

  it("a Checkout Session's PaymentIntent carries the trip: succeeded rehydrates it; a declined attempt is not final", () => {
    const ok = change(plan('payment_intent.succeeded', paymentIntent({ metadata: TRIP })));
    expect(ok).toMatchObject({ aggregateId: 'trip-1', kind: 'checkout_session', idempotencyKey: 'cs:trip-1', ids: TRIP });
    expect(plan('payment_intent.payment_failed', paymentIntent({ metadata: TRIP, status: 'requires_payment_method' }))).toEqual({
      action: 'ignore',
      outcome: 'checkout_attempt_failed',
    });
    expect(plan('payment_intent.succeeded', paymentIntent({ id: 'pi_m', metadata: { trip_id: 'trip-1' } }))).toEqual({
      action: 'missing_metadata',
      missing: ['user_id', 'driver_id'],
      object: 'pi_m',
    });
  });

  it('a PaymentIntent without metadata is found by its id later; its failure is final only if the row is not a Checkout Session', () => {
    const c = change(plan('payment_intent.payment_failed', paymentIntent({ id: 'pi_bare', status: 'requires_payment_method' })));
    expect(c.aggregateId).toBeUndefined();
    expect(c).toMatchObject({ paymentIntentId: 'pi_bare', finalUnlessCheckout: true });
  });

  it('charge.refunded in full → refunded; a partial refund changes nothing', () => {
    const c = change(plan('charge.refunded', charge({ paymentIntent: 'pi_r', metadata: { order_id: 'order-r' }, amount: 1000 })));
    expect(c).toMatchObject({ next: 'refunded', aggregateId: 'order-r', paymentIntentId: 'pi_r', refund: { amount: 1000 } });
    const event = pipelineEvent(c, 'order-r', row({ aggregateId: 'order-r', status: 'succeeded', paymentIntentId: 'pi_r' }));
    expect(event).toMatchObject({
      topic: 'payments.refunded',
      key: 'order-r',
      data: { order_id: 'order-r', payment_intent_id: 'pi_r', charge_id: c.chargeId, amount: 1000, currency: 'usd' },
    });
    expect(plan('charge.refunded', charge({ paymentIntent: 'pi_r', amount: 1000, refunded: 400 }))).toEqual({
      action: 'ignore',
      outcome: 'partial_refund',
    });
  });

  it('anything else is ignored', () => {
    for (const type of [
      'payment_intent.created',
      'charge.succeeded',
      'customer.created',
      'checkout.session.async_payment_pending',
      'made.up',
    ]) {
      expect(plan(type, { id: 'x' }), type).toEqual({ action: 'ignore', outcome: 'ignored_type' });
    }
  });
});

describe('pipelineEvent: ids the Stripe object lacks come from the payments row', () => {
  it('rehydrates trip, rider and driver and the session id from a worker-created row', () => {
    const c = change(plan('payment_intent.succeeded', paymentIntent({ id: 'pi_w' })));
    const workerRow = row({
      aggregateId: 'trip-7',
      kind: 'checkout_session',
      checkoutSessionId: 'cs_w',
      metadata: { trip_id: 'trip-7', user_id: 'u-7', driver_id: 'd-7', checkout_url: 'x' },
    });
    expect(pipelineEvent(c, 'trip-7', workerRow).data).toMatchObject({
      trip_id: 'trip-7',
      user_id: 'u-7',
      driver_id: 'd-7',
      session_id: 'cs_w',
      payment_intent_id: 'pi_w',
    });
    expect(pipelineEvent(c, 'trip-7', workerRow).data).not.toHaveProperty('checkout_url');
  });

  it('names the aggregate by the row kind when no metadata says which it is', () => {
    const c = change(plan('payment_intent.succeeded', paymentIntent({ id: 'pi_o' })));
    expect(pipelineEvent(c, 'order-8', row({ aggregateId: 'order-8' })).data).toMatchObject({ order_id: 'order-8' });
  });
});

describe('eventIdFor', () => {
  it('is a stable version-5 UUID per Stripe event id', () => {
    expect(eventIdFor('evt_1')).toBe(eventIdFor('evt_1'));
    expect(eventIdFor('evt_1')).not.toBe(eventIdFor('evt_2'));
    expect(eventIdFor('evt_1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
