import { describe, expect, it } from 'vitest';
import { decideCharge, decideKnownOrder } from '../../src/payments/decisions/charge.js';
import { cancellationWork, decideCancellation, decideRelease } from '../../src/payments/decisions/saga.js';
import { decideSession, needsSession } from '../../src/payments/decisions/checkout.js';
import { ConcurrentPaymentWriteError, type PaymentRow } from '../../src/payments/row.js';
import type { PaymentStatus } from '../../src/payments/status.js';

const order = { order_id: 'o1', amount: 1999, currency: 'usd', payment_method: 'pm_card_visa' };
const row = (status: PaymentStatus, extra: Partial<PaymentRow> = {}): PaymentRow => ({
  aggregateId: 'o1',
  kind: 'payment_intent',
  status,
  amount: 1999,
  currency: 'usd',
  idempotencyKey: 'pi:o1',
  paymentIntentId: 'pi_1',
  checkoutSessionId: null,
  refundId: null,
  failureCode: null,
  failureMessage: null,
  metadata: {},
  ...extra,
});
const topics = (d: { events?: { topic: string }[] }) => (d.events ?? []).map((e) => e.topic);

describe('charge decisions', () => {
  const succeeded = { status: 'succeeded' as const, paymentIntentId: 'pi_1', idempotencyKey: 'pi:o1' };
  const declined = {
    status: 'declined' as const,
    paymentIntentId: 'pi_1',
    code: 'card_declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
    idempotencyKey: 'pi:o1',
  };

  it('records a first success and announces it', () => {
    const d = decideCharge(order, succeeded, undefined);
    expect(d.result).toBe('succeeded');
    expect(d.write).toMatchObject({ status: 'succeeded', amount: 1999, paymentIntentId: 'pi_1', idempotencyKey: 'pi:o1' });
    expect(topics(d)).toEqual(['payments.completed']);
  });
  it('records a decline with its code and announces payments.failed', () => {
    const d = decideCharge(order, declined, undefined);
    expect(d.write).toMatchObject({ status: 'failed', failureCode: 'insufficient_funds' });
    expect(d.events?.[0]?.data).toMatchObject({
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      reason: 'Your card has insufficient funds.',
    });
  });
  it('announces nothing twice: a row that already has its outcome stays as it is', () => {
    expect(decideCharge(order, succeeded, row('succeeded'))).toEqual({ result: 'already_recorded' });
    expect(decideCharge(order, succeeded, row('failed'))).toEqual({ result: 'already_recorded' });
    expect(decideCharge(order, declined, row('cancelled'))).toEqual({ result: 'already_recorded' });
  });
  it('a charge that raced a cancellation is announced and handed to the saga for a refund', () => {
    expect(topics(decideCharge(order, succeeded, row('cancelled')))).toEqual(['payments.completed', 'orders.cancelled']);
  });
  it('never charges an order whose row exists again, and says why', () => {
    expect(decideKnownOrder(row('cancelled'))).toEqual({ result: 'cancelled_before_payment' });
    for (const status of ['pending', 'requires_action', 'succeeded', 'failed', 'refunded'] as const) {
      expect(decideKnownOrder(row(status))).toEqual({ result: 'already_recorded' });
    }
  });
  it('a payment waiting for 3-D Secure is recorded without an event', () => {
    const d = decideCharge(order, { status: 'requires_action', paymentIntentId: 'pi_1', idempotencyKey: 'pi:o1' }, undefined);
    expect(d.write?.status).toBe('requires_action');
    expect(d.events).toBeUndefined();
  });
});

describe('saga decisions', () => {
  it('releases an order whose payment failed, not one whose row says it was paid', () => {
    expect(topics(decideRelease({ order_id: 'o1' }, row('failed')))).toEqual(['orders.cancelled']);
    expect(topics(decideRelease({ order_id: 'o1' }, undefined))).toEqual(['orders.cancelled']);
    expect(decideRelease({ order_id: 'o1' }, row('succeeded')).result).toBe('payment_not_failed');
  });
  it('refunds a paid order once and announces payments.refunded', () => {
    const refund = { refundId: 're_1', amount: 1999 };
    const d = decideCancellation({ order_id: 'o1' }, row('succeeded'), row('succeeded'), refund);
    expect(d.write).toMatchObject({ status: 'refunded', refundId: 're_1' });
    expect(d.events?.[0]).toMatchObject({
      topic: 'payments.refunded',
      data: { order_id: 'o1', refund_id: 're_1', amount: 1999, currency: 'usd', payment_intent_id: 'pi_1' },
    });
    expect(decideCancellation({ order_id: 'o1' }, row('succeeded'), row('refunded'), refund)).toEqual({ result: 'already_refunded' });
  });
  it('records a tombstone when the cancellation comes before any payment', () => {
    expect(decideCancellation({ order_id: 'o1' }, undefined, undefined, undefined).write).toMatchObject({
      status: 'cancelled',
      kind: 'payment_intent',
    });
    expect(decideCancellation({ trip_id: 't1' }, undefined, undefined, undefined).write).toMatchObject({
      status: 'cancelled',
      kind: 'checkout_session',
    });
  });
  it('starts over when the row moved since it was read', () => {
    expect(() => decideCancellation({ order_id: 'o1' }, undefined, row('succeeded'), undefined)).toThrow(ConcurrentPaymentWriteError);
    expect(() => decideCancellation({ order_id: 'o1' }, row('pending'), row('succeeded'), undefined)).toThrow(ConcurrentPaymentWriteError);
  });
  it('refunds a paid payment, stops a waiting one, and calls Stripe for nothing else', () => {
    expect(cancellationWork(row('succeeded'))).toBe('refund');
    expect(cancellationWork(row('pending'))).toBe('stop_waiting');
    expect(cancellationWork(row('requires_action'))).toBe('stop_waiting');
    expect(cancellationWork(undefined)).toBe('nothing');
    for (const status of ['failed', 'cancelled', 'refunded'] as const) expect(cancellationWork(row(status))).toBe('nothing');
  });
  it('has nothing to give back for a failed, cancelled or refunded payment', () => {
    for (const status of ['failed', 'cancelled', 'refunded'] as const) {
      expect(decideCancellation({ order_id: 'o1' }, row(status), row(status), undefined)).toEqual({ result: 'nothing_to_refund' });
    }
  });
});

describe('checkout decisions', () => {
  const request = { trip_id: 't1', user_id: 'u1', driver_id: 'd1', amount: 1999, currency: 'usd' };
  it('records a new session as pending and announces it with the major-unit amount', () => {
    const d = decideSession(request, { sessionId: 'cs_1', url: 'https://pay/cs_1', idempotencyKey: 'cs:t1' }, undefined);
    expect(d.write).toMatchObject({ status: 'pending', kind: 'checkout_session', checkoutSessionId: 'cs_1', idempotencyKey: 'cs:t1' });
    expect(d.events?.[0]?.data).toMatchObject({
      trip_id: 't1',
      user_id: 'u1',
      driver_id: 'd1',
      session_id: 'cs_1',
      amount: 19.99,
      amount_minor: 1999,
    });
  });
  it('announces the recorded session again for a repeated request, and nothing for a finished trip', () => {
    const recorded = row('pending', {
      aggregateId: 't1',
      kind: 'checkout_session',
      checkoutSessionId: 'cs_1',
      metadata: { checkout_url: 'https://pay/cs_1' },
    });
    const again = decideSession(request, undefined, recorded);
    expect(again.result).toBe('session_repeated');
    expect(again.write).toBeUndefined();
    expect(decideSession(request, undefined, row('succeeded', { aggregateId: 't1' }))).toEqual({ result: 'already_recorded' });
  });
  it('makes a session only for a trip that has none and is not over', () => {
    expect(needsSession(undefined)).toBe(true);
    expect(needsSession(row('pending', { aggregateId: 't1', kind: 'checkout_session' }))).toBe(true);
    const recorded = row('pending', {
      kind: 'checkout_session',
      checkoutSessionId: 'cs_1',
      metadata: { checkout_url: 'https://pay/cs_1' },
    });
    expect(needsSession(recorded)).toBe(false);
    expect(needsSession(row('succeeded', { kind: 'checkout_session' }))).toBe(false);
    expect(needsSession(row('cancelled', { kind: 'checkout_session' }))).toBe(false);
  });
  it('starts over when the trip has no session to announce (it lost the one it had since it was read)', () => {
    expect(() => decideSession(request, undefined, undefined)).toThrow(ConcurrentPaymentWriteError);
    expect(() => decideSession(request, undefined, row('pending', { aggregateId: 't1', kind: 'checkout_session' }))).toThrow(
      ConcurrentPaymentWriteError,
    );
  });
});
