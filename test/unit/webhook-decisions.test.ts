import { describe, expect, it } from 'vitest';
import { decideWebhookEvent, eventIdFor, type PaymentChange } from '../../src/payments/decisions/webhook-event.js';
import type { PaymentRow } from '../../src/payments/row.js';

const SOURCE = 'paymentsctl/webhook-serve';
const TRIP = { trip_id: 'trip-1', user_id: 'user-1', driver_id: 'driver-1' };

const paid: PaymentChange = {
  next: 'succeeded',
  aggregateId: 'trip-1',
  paymentIntentId: 'pi_1',
  checkoutSessionId: 'cs_1',
  kind: 'checkout_session',
  idempotencyKey: 'cs:trip-1',
  amount: 2500,
  currency: 'usd',
  ids: TRIP,
};

const row = (fields: Partial<PaymentRow>): PaymentRow => ({
  aggregateId: 'trip-1',
  kind: 'checkout_session',
  status: 'pending',
  amount: 2500,
  currency: 'usd',
  idempotencyKey: 'cs:trip-1',
  paymentIntentId: null,
  checkoutSessionId: 'cs_1',
  refundId: null,
  failureCode: null,
  failureMessage: null,
  metadata: { ...TRIP },
  ...fields,
});

describe('decideWebhookEvent: what a Stripe event does to the row as it stands', () => {
  it('creates the row of a payment first heard of from Stripe, and announces it traceably', () => {
    const d = decideWebhookEvent('evt_1', paid, undefined, SOURCE);
    expect(d.write).toEqual({
      aggregateId: 'trip-1',
      kind: 'checkout_session',
      status: 'succeeded',
      amount: 2500,
      currency: 'usd',
      idempotencyKey: 'cs:trip-1',
      paymentIntentId: 'pi_1',
      checkoutSessionId: 'cs_1',
      failureCode: null,
      failureMessage: null,
      metadata: TRIP,
    });
    expect(d.events).toEqual([
      {
        topic: 'payments.completed',
        key: 'trip-1',
        type: 'payments.completed',
        data: { ...TRIP, payment_intent_id: 'pi_1', session_id: 'cs_1', amount: 2500, currency: 'usd', status: 'succeeded' },
        source: SOURCE,
        eventId: eventIdFor('evt_1'),
        headers: { stripe_event_id: 'evt_1' },
      },
    ]);
    expect(d.result).toEqual({
      outcome: 'published:payments.completed',
      aggregateId: 'trip-1',
      published: [{ topic: 'payments.completed', eventId: eventIdFor('evt_1') }],
    });
  });

  it('moves a pending row, keeping what the row knows and recording the failure', () => {
    const failed: PaymentChange = {
      ...paid,
      next: 'failed',
      amount: 1,
      failure: { reason: 'Your card was declined.', code: 'card_declined', declineCode: 'insufficient_funds' },
    };
    const d = decideWebhookEvent('evt_2', failed, row({ status: 'pending' }), SOURCE);
    expect(d.write).toMatchObject({
      status: 'failed',
      amount: 2500,
      failureCode: 'insufficient_funds',
      failureMessage: 'Your card was declined.',
    });
    expect(d.events?.map((e) => e.topic)).toEqual(['payments.failed']);
  });

  it('hands a payment that went through after its cancellation to the saga, under an id of its own', () => {
    const d = decideWebhookEvent('evt_3', paid, row({ status: 'cancelled' }), SOURCE);
    expect(d.write?.status).toBe('succeeded');
    expect(d.events?.map((e) => e.topic)).toEqual(['payments.completed', 'orders.cancelled']);
    expect(d.events?.[1]).toMatchObject({
      key: 'trip-1',
      type: 'orders.cancelled',
      data: { ...TRIP, reason: 'cancelled_before_payment' },
      eventId: eventIdFor('evt_3:orders.cancelled'),
    });
  });

  it('never moves a row backwards: the same outcome again is a duplicate transition, older news is stale', () => {
    const again = decideWebhookEvent('evt_4', paid, row({ status: 'succeeded', paymentIntentId: 'pi_1' }), SOURCE);
    expect(again).toEqual({ result: { outcome: 'duplicate_transition', aggregateId: 'trip-1', currentStatus: 'succeeded' } });
    const late = decideWebhookEvent('evt_5', paid, row({ status: 'refunded', paymentIntentId: 'pi_1' }), SOURCE);
    expect(late).toEqual({ result: { outcome: 'stale', aggregateId: 'trip-1', currentStatus: 'refunded' } });
  });

  it('news that moves nothing still fills in the Stripe ids the row lacks, and nothing else', () => {
    const d = decideWebhookEvent('evt_6', paid, row({ status: 'succeeded', checkoutSessionId: null }), SOURCE);
    expect(d.result.outcome).toBe('duplicate_transition');
    expect(d.write).toEqual({
      aggregateId: 'trip-1',
      kind: 'checkout_session',
      status: 'succeeded',
      failureCode: null,
      failureMessage: null,
      paymentIntentId: 'pi_1',
      checkoutSessionId: 'cs_1',
    });
    expect(d.events).toBeUndefined();
  });

  it('records nothing for a payment that is not ours, nor a row it could not fill', () => {
    const { aggregateId: _, ...anonymous } = paid;
    expect(decideWebhookEvent('evt_7', anonymous, undefined, SOURCE)).toEqual({ result: { outcome: 'unknown_payment' } });
    const { amount: __, ...noAmount } = paid;
    expect(decideWebhookEvent('evt_8', noAmount, undefined, SOURCE)).toEqual({
      result: { outcome: 'unknown_payment', aggregateId: 'trip-1' },
    });
  });

  it('a PaymentIntent failure without metadata ends an order, but is one attempt of a Checkout Session', () => {
    const attempt: PaymentChange = { ...paid, next: 'failed', finalUnlessCheckout: true, failure: { reason: 'declined' } };
    expect(decideWebhookEvent('evt_9', attempt, row({}), SOURCE)).toEqual({
      result: { outcome: 'checkout_attempt_failed', aggregateId: 'trip-1' },
    });
    const order = row({ aggregateId: 'order-1', kind: 'payment_intent', metadata: { order_id: 'order-1' } });
    expect(decideWebhookEvent('evt_10', { ...attempt, kind: 'payment_intent', aggregateId: 'order-1' }, order, SOURCE).result.outcome).toBe(
      'published:payments.failed',
    );
  });

  it("the expiry of a session the trip does not use fails nothing; the end of the trip's own session does", () => {
    const expired: PaymentChange = { ...paid, next: 'failed', checkoutSessionId: 'cs_0', failure: { reason: 'checkout_session_expired' } };
    expect(decideWebhookEvent('evt_11', expired, row({}), SOURCE)).toEqual({
      result: { outcome: 'other_session', aggregateId: 'trip-1', currentStatus: 'pending' },
    });
    const own = decideWebhookEvent('evt_12', { ...expired, checkoutSessionId: 'cs_1' }, row({}), SOURCE);
    expect(own.result.outcome).toBe('published:payments.failed');
    // A row that names no session yet is failed by the event that names one.
    expect(decideWebhookEvent('evt_13', expired, row({ checkoutSessionId: null }), SOURCE).result.outcome).toBe(
      'published:payments.failed',
    );
  });
});
