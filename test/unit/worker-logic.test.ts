import { describe, expect, it } from 'vitest';
import Stripe from 'stripe';
import { attemptsOf, dueAtOf, failureHeaders, FailureHeaders, isAddressedTo, messageIdOf, originOf } from '../../src/worker/headers.js';
import { dispositionAfter } from '../../src/worker/retry-policy.js';
import { classifyFailure, InvalidMessageError, PermanentFailure } from '../../src/worker/failures.js';
import { StripeGatewayError, classifyStripeError, isReplayedServerError } from '../../src/stripe/errors.js';
import { ConcurrentPaymentWriteError } from '../../src/payments/row.js';

describe('retry schedule', () => {
  const schedule = [1000, 4000, 16000];
  it('sends failure n to retry topic n with its delay, and the one after the last to the dead letters', () => {
    expect(dispositionAfter(1, schedule)).toEqual({ action: 'retry', level: 1, delayMs: 1000 });
    expect(dispositionAfter(3, schedule)).toEqual({ action: 'retry', level: 3, delayMs: 16000 });
    expect(dispositionAfter(4, schedule)).toEqual({ action: 'dead-letter' });
    expect(dispositionAfter(1, [])).toEqual({ action: 'dead-letter' });
  });
});

describe('failure headers', () => {
  const origin = { topic: 'orders.placed', partition: 2, offset: '41', timestamp: 1_700_000_000_000 };
  it('keep the original headers and record where the message came from, how often it failed and why', () => {
    const headers = failureHeaders(
      { ce_id: 'e1', ce_type: 'orders.placed' },
      {
        origin,
        consumer: 'worker.payments',
        attempts: 1,
        error: 'Stripe 500',
        errorKind: 'transient',
        now: 1_700_000_001_000,
        dueAt: 1_700_000_002_000,
      },
    );
    expect(headers).toMatchObject({
      ce_id: 'e1',
      [FailureHeaders.attempts]: '1',
      [FailureHeaders.originalTopic]: 'orders.placed',
      [FailureHeaders.originalPartition]: '2',
      [FailureHeaders.originalOffset]: '41',
      [FailureHeaders.dueAt]: '1700000002000',
      [FailureHeaders.error]: 'Stripe 500',
      [FailureHeaders.consumer]: 'worker.payments',
    });
    expect(attemptsOf(headers)).toBe(1);
    expect(dueAtOf(headers)).toBe(1_700_000_002_000);
    // A retry copy read from orders.placed.retry.1 still points at the original.
    expect(originOf({ topic: 'orders.placed.retry.1', partition: 0, offset: '7', timestamp: 5 }, headers)).toEqual(origin);
  });
  it('drop a stale due time on the dead letter and cut long errors', () => {
    const retried = failureHeaders(
      {},
      { origin, consumer: 'worker.payments', attempts: 3, error: 'x', errorKind: 'transient', now: 0, dueAt: 99 },
    );
    const dead = failureHeaders(retried, {
      origin,
      consumer: 'worker.payments',
      attempts: 4,
      error: 'e'.repeat(5000),
      errorKind: 'transient',
      now: 0,
      deadLetterReason: 'retries_exhausted',
    });
    expect(dead[FailureHeaders.dueAt]).toBeUndefined();
    expect(dead[FailureHeaders.deadLetterReason]).toBe('retries_exhausted');
    expect(dead[FailureHeaders.error]!.length).toBeLessThanOrEqual(1000);
  });
  it('address a retry copy to the handler that failed it, and an untouched message to every handler', () => {
    const copy = failureHeaders(
      { ce_id: 'e1' },
      { origin, consumer: 'worker.saga.release', attempts: 1, error: 'x', errorKind: 'transient', now: 0 },
    );
    expect(isAddressedTo(copy, 'worker.saga.release')).toBe(true);
    expect(isAddressedTo(copy, 'worker.history')).toBe(false);
    expect(isAddressedTo({ ce_id: 'e1' }, 'worker.history')).toBe(true);
  });
  it('identify a message by its CloudEvents id, else by where it first landed', () => {
    expect(messageIdOf({ ce_id: 'abc' }, origin)).toBe('abc');
    expect(messageIdOf({}, origin)).toBe('orders.placed/2/41');
  });
  it('read missing or garbled counters as none', () => {
    expect(attemptsOf({ [FailureHeaders.attempts]: 'x' })).toBe(0);
    expect(dueAtOf({})).toBeUndefined();
  });
});

describe('failure classification', () => {
  it('retries Stripe outages through the topics and dead-letters what cannot succeed', () => {
    expect(classifyFailure(new StripeGatewayError('retryable', '500'))).toBe('transient');
    expect(classifyFailure(new StripeGatewayError('invalid', 'bad currency', { statusCode: 400 }))).toBe('permanent');
    expect(classifyFailure(new StripeGatewayError('invalid', 'bad key', { statusCode: 401 }))).toBe('transient');
    expect(classifyFailure(new InvalidMessageError('not JSON'))).toBe('permanent');
    expect(classifyFailure(new PermanentFailure('no PaymentIntent'))).toBe('permanent');
  });
  it('retries our own database and Kafka in place', () => {
    expect(classifyFailure(Object.assign(new Error('terminating connection'), { code: '57P01', severity: 'FATAL' }))).toBe(
      'infrastructure',
    );
    expect(classifyFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('infrastructure');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('infrastructure');
    expect(classifyFailure(new ConcurrentPaymentWriteError('o1'))).toBe('infrastructure');
    expect(classifyFailure(Object.assign(new Error('check violation'), { code: '23514', severity: 'ERROR' }))).toBe('permanent');
  });
  it('sends unknown errors round the retries so a bug ends in the dead letters, not in a stuck partition', () => {
    expect(classifyFailure(new TypeError('x is undefined'))).toBe('transient');
  });
});

describe('replayed 5xx', () => {
  it('is recognised from the Idempotent-Replayed header', () => {
    const raw = { type: 'api_error', message: 'boom', statusCode: 500, headers: { 'idempotent-replayed': 'true' } };
    const replayed = classifyStripeError(Stripe.errors.StripeError.generate(raw as never));
    expect(isReplayedServerError(replayed)).toBe(true);
    const fresh = classifyStripeError(Stripe.errors.StripeError.generate({ ...raw, headers: {} } as never));
    expect(isReplayedServerError(fresh)).toBe(false);
  });
});
