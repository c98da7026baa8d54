import { describe, expect, it } from 'vitest';
import { canTransition, isTerminal, PAYMENT_STATUSES } from '../../src/payments/status.js';
import { toMajorUnits } from '../../src/payments/money.js';
import {
  aggregateIdOf,
  aggregateIdsIn,
  checkoutRequestedSchema,
  orderCancelledSchema,
  orderPlacedSchema,
  pipelineMessage,
} from '../../src/payments/events.js';
import { Topics } from '../../src/contracts.js';
import { keyGeneration } from '../../src/payments/stripe-calls.js';

describe('payments state machine', () => {
  it('never moves a terminal payment backwards', () => {
    expect(canTransition('succeeded', 'pending')).toBe(false);
    expect(canTransition('succeeded', 'failed')).toBe(false);
    expect(canTransition('failed', 'succeeded')).toBe(false);
    expect(canTransition('refunded', 'succeeded')).toBe(false);
    expect(canTransition('succeeded', 'succeeded')).toBe(false);
  });
  it('lets a waiting payment finish, money taken be refunded, and a charge that raced a cancellation through', () => {
    expect(canTransition(undefined, 'succeeded')).toBe(true);
    expect(canTransition('pending', 'succeeded')).toBe(true);
    expect(canTransition('requires_action', 'failed')).toBe(true);
    expect(canTransition('succeeded', 'refunded')).toBe(true);
    expect(canTransition('cancelled', 'succeeded')).toBe(true);
    expect(canTransition('cancelled', 'failed')).toBe(false);
  });
  it('calls succeeded, failed, cancelled and refunded terminal', () => {
    expect(PAYMENT_STATUSES.filter(isTerminal)).toEqual(['succeeded', 'failed', 'cancelled', 'refunded']);
  });
});

describe('money', () => {
  it('converts minor units to what a browser shows, per currency exponent', () => {
    expect(toMajorUnits(1999, 'usd')).toBe(19.99);
    expect(toMajorUnits(1999, 'INR')).toBe(19.99);
    expect(toMajorUnits(500, 'jpy')).toBe(500);
    expect(toMajorUnits(1234, 'kwd')).toBe(1.234);
    expect(toMajorUnits(10, 'eur')).toBe(0.1);
  });
});

describe('event schemas', () => {
  it('accepts an order and normalises its currency', () => {
    const order = orderPlacedSchema.parse({ order_id: 'o1', amount: 100, currency: 'USD', payment_method: 'pm_card_visa', extra: 1 });
    expect(order).toEqual({ order_id: 'o1', amount: 100, currency: 'usd', payment_method: 'pm_card_visa' });
  });
  it('refuses fractional, negative or float money and a missing payment method', () => {
    expect(orderPlacedSchema.safeParse({ order_id: 'o1', amount: 10.5, currency: 'usd', payment_method: 'pm' }).success).toBe(false);
    expect(orderPlacedSchema.safeParse({ order_id: 'o1', amount: -1, currency: 'usd', payment_method: 'pm' }).success).toBe(false);
    expect(orderPlacedSchema.safeParse({ order_id: 'o1', amount: 100, currency: 'usd' }).success).toBe(false);
    expect(checkoutRequestedSchema.safeParse({ trip_id: 't', user_id: 'u', amount: 100, currency: 'usd' }).success).toBe(false);
  });
  it('needs an order or a trip to cancel', () => {
    expect(orderCancelledSchema.safeParse({ reason: 'x' }).success).toBe(false);
    expect(aggregateIdOf(orderCancelledSchema.parse({ trip_id: 't9' }))).toBe('t9');
    expect(aggregateIdOf(orderCancelledSchema.parse({ order_id: 'o9', trip_id: 't9' }))).toBe('o9');
  });
});

describe('pipeline events', () => {
  it('carry their topic as their CloudEvents type', () => {
    expect(pipelineMessage(Topics.paymentsFailed, 'o1', { order_id: 'o1' })).toEqual({
      topic: 'payments.failed',
      key: 'o1',
      type: 'payments.failed',
      data: { order_id: 'o1' },
    });
  });
  it('take the business ids from a source and nothing else of it', () => {
    expect(aggregateIdsIn({ trip_id: 't1', user_id: 'u1', driver_id: '', checkout_url: 'x' } as Record<string, string>)).toEqual({
      trip_id: 't1',
      user_id: 'u1',
    });
  });
});

describe('idempotency key generations', () => {
  it('keeps the business key first and numbers the next ones', () => {
    expect([0, 1, 2].map((g) => keyGeneration('pi:o1', g))).toEqual(['pi:o1', 'pi:o1:2', 'pi:o1:3']);
  });
});
