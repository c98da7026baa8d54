import { describe, expect, it } from 'vitest';
import { decideHistoryEntry, userOf, type MoneyEvent } from '../../src/payments/decisions/history.js';
import type { PaymentRow } from '../../src/payments/row.js';

const at = new Date('2026-01-02T03:04:05.678Z');
const row = (extra: Partial<PaymentRow> = {}): PaymentRow => ({
  aggregateId: 'trip_1',
  kind: 'checkout_session',
  status: 'succeeded',
  amount: 1999,
  currency: 'usd',
  idempotencyKey: 'cs:trip_1',
  paymentIntentId: 'pi_1',
  checkoutSessionId: 'cs_1',
  refundId: null,
  failureCode: null,
  failureMessage: null,
  metadata: { trip_id: 'trip_1', user_id: 'rider_7', driver_id: 'driver_3' },
  ...extra,
});
const event = (extra: Partial<MoneyEvent> = {}): MoneyEvent => ({
  kind: 'charge',
  eventId: 'e1',
  occurredAt: at,
  aggregateId: 'trip_1',
  amount: 1999,
  currency: 'usd',
  paymentIntentId: 'pi_1',
  ...extra,
});

describe('which history entry a money event appends', () => {
  it('records a charge for the user the event names, with its Stripe ids and when it happened', () => {
    const d = decideHistoryEntry(event({ userId: 'rider_9', chargeId: 'ch_1' }), row());
    expect(d.result).toBe('recorded_charge');
    expect(d.write).toBeUndefined();
    expect(d.events).toBeUndefined();
    expect(d.transactions).toEqual([
      {
        eventId: 'e1',
        userId: 'rider_9',
        aggregateId: 'trip_1',
        kind: 'charge',
        amount: 1999,
        currency: 'usd',
        paymentIntentId: 'pi_1',
        chargeId: 'ch_1',
        checkoutSessionId: 'cs_1',
        occurredAt: at,
      },
    ]);
  });

  it('finds the user on the payments row: a trip’s rider, else an order’s customer', () => {
    expect(userOf(event(), row())).toBe('rider_7');
    expect(userOf(event({ aggregateId: 'o1' }), row({ metadata: { order_id: 'o1', customer: 'cus_4' } }))).toBe('cus_4');
    expect(decideHistoryEntry(event(), row()).transactions?.[0]?.userId).toBe('rider_7');
  });

  it('records a refund with its refund id, and a failure with its reason', () => {
    const refund = decideHistoryEntry(event({ kind: 'refund', eventId: 'e2', refundId: 're_1' }), row({ status: 'refunded' }));
    expect(refund.result).toBe('recorded_refund');
    expect(refund.transactions?.[0]).toMatchObject({ kind: 'refund', refundId: 're_1', amount: 1999, userId: 'rider_7' });
    const failed = decideHistoryEntry(
      event({ kind: 'failed', eventId: 'e3', failureReason: 'card_declined' }),
      row({ status: 'failed', failureMessage: 'Your card was declined.' }),
    );
    expect(failed.result).toBe('recorded_failed');
    expect(failed.transactions?.[0]).toMatchObject({ kind: 'failed', failureReason: 'card_declined' });
    expect(failed.transactions?.[0]?.refundId).toBeUndefined();
  });

  it('takes the amount of a failure that says none from the payments row', () => {
    const d = decideHistoryEntry(event({ kind: 'failed', amount: undefined, currency: undefined }), row({ amount: 750, currency: 'eur' }));
    expect(d.transactions?.[0]).toMatchObject({ amount: 750, currency: 'eur', failureReason: 'payment_failed' });
  });

  it('skips, with the reason, an event whose user nobody names', () => {
    const noRow = decideHistoryEntry(event(), undefined);
    expect(noRow.result).toBe('skipped_missing_user');
    expect(noRow.transactions).toBeUndefined();
    expect(noRow.skipped).toMatch(/charge of trip_1 names no user/);
    const anonymous = decideHistoryEntry(event({ aggregateId: 'o9' }), row({ aggregateId: 'o9', metadata: { order_id: 'o9' } }));
    expect(anonymous.result).toBe('skipped_missing_user');
    expect(anonymous.skipped).toMatch(/no user_id or customer/);
  });

  it('skips an event whose amount neither it nor the row knows', () => {
    const d = decideHistoryEntry(event({ kind: 'failed', amount: undefined, userId: 'rider_1' }), undefined);
    expect(d.result).toBe('skipped_missing_amount');
    expect(d.skipped).toMatch(/no amount/);
  });
});
