import { describe, expect, it } from 'vitest';
import {
  compareAggregate,
  decideRepair,
  stripeVerdict,
  type AggregateFacts,
  type IntentFacts,
  type SessionFacts,
} from '../../src/payments/decisions/reconcile.js';
import type { PaymentRow } from '../../src/payments/row.js';
import { decideWebhookEvent } from '../../src/payments/decisions/webhook-event.js';
import { daysOf, parseInstant, resolveWindow } from '../../src/ops/reconcile/window.js';
import { reportLines, reportFormatOf } from '../../src/ops/reconcile/report-file.js';
import type { ReconcileReport } from '../../src/ops/reconcile/reconcile.js';
import { backoffMs } from '../../src/stripe/rate-limit.js';
import { RequestMeter } from '../../src/stripe-emulator/request-meter.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const OPTIONS = { now: NOW, staleAfterMs: 15 * 60_000 };

function intent(id: string, status: string, extra: Partial<IntentFacts> = {}): IntentFacts {
  return {
    id,
    created: NOW / 1000 - 60,
    status,
    amount: 1000,
    amountReceived: status === 'succeeded' ? 1000 : 0,
    currency: 'usd',
    ids: { order_id: 'o-1' },
    amountRefunded: 0,
    refunded: false,
    refundIds: [],
    ...extra,
  };
}

function session(id: string, status: string, paymentStatus: string, extra: Partial<SessionFacts> = {}): SessionFacts {
  return {
    id,
    created: NOW / 1000 - 60,
    status,
    paymentStatus,
    amountTotal: 1000,
    currency: 'usd',
    ids: { trip_id: 't-1', user_id: 'u', driver_id: 'd' },
    ...extra,
  };
}

function row(status: PaymentRow['status'], extra: Partial<PaymentRow> = {}, updatedAgoMs = 60_000): PaymentRow & { updatedAt: number } {
  return {
    aggregateId: 'o-1',
    kind: 'payment_intent',
    status,
    amount: 1000,
    currency: 'usd',
    idempotencyKey: 'pi:o-1',
    paymentIntentId: 'pi_1',
    checkoutSessionId: null,
    refundId: null,
    failureCode: null,
    failureMessage: null,
    metadata: { order_id: 'o-1' },
    updatedAt: NOW - updatedAgoMs,
    ...extra,
  };
}

const facts = (partial: Partial<AggregateFacts>): AggregateFacts => ({ aggregateId: 'o-1', intents: [], sessions: [], ...partial });
const codes = (f: AggregateFacts) => compareAggregate(f, OPTIONS).map((d) => d.code);

describe("reconcile decisions: what Stripe's objects add up to", () => {
  it('a succeeded PaymentIntent is the payment; a canceled or declined one (outside Checkout) is final', () => {
    expect(stripeVerdict(facts({ intents: [intent('pi_1', 'succeeded')] })).outcome).toBe('succeeded');
    expect(stripeVerdict(facts({ intents: [intent('pi_1', 'canceled')] })).outcome).toBe('failed');
    expect(
      stripeVerdict(facts({ intents: [intent('pi_1', 'requires_payment_method', { lastError: { code: 'card_declined' } })] })).outcome,
    ).toBe('failed');
    expect(stripeVerdict(facts({ intents: [intent('pi_1', 'requires_action')] })).outcome).toBe('pending');
    expect(stripeVerdict(facts({})).outcome).toBe('absent');
  });

  it('a declined attempt inside an open Checkout Session is not final; an expired session is', () => {
    const attempt = intent('pi_1', 'requires_payment_method', { lastError: {}, ids: { trip_id: 't-1' } });
    expect(stripeVerdict(facts({ intents: [attempt], sessions: [session('cs_1', 'open', 'unpaid')] })).outcome).toBe('pending');
    expect(stripeVerdict(facts({ sessions: [session('cs_1', 'expired', 'unpaid')] }))).toMatchObject({
      outcome: 'failed',
      reason: 'checkout_session_expired',
    });
    expect(
      stripeVerdict(facts({ intents: [attempt], sessions: [session('cs_1', 'complete', 'unpaid', { paymentIntentId: 'pi_1' })] })),
    ).toMatchObject({ outcome: 'failed', reason: 'checkout_session_async_payment_failed' });
  });

  it("a trip's other session (made under a key whose request failed, its URL never sent) neither holds it pending nor fails it", () => {
    const trip = (status: PaymentRow['status']) =>
      row(status, { aggregateId: 't-1', kind: 'checkout_session', paymentIntentId: null, checkoutSessionId: 'cs_2' }, 20 * 60_000);
    const declined = intent('pi_2', 'requires_payment_method', { lastError: {}, ids: { trip_id: 't-1' } });
    const orphan = session('cs_1', 'open', 'unpaid', { created: NOW / 1000 - 61 });
    const recorded = session('cs_2', 'complete', 'unpaid', { paymentIntentId: 'pi_2' });
    const afterDecline = facts({ aggregateId: 't-1', row: trip('pending'), intents: [declined], sessions: [orphan, recorded] });
    expect(stripeVerdict(afterDecline)).toMatchObject({ outcome: 'failed', primary: { id: 'cs_2' } });
    const [stale] = compareAggregate(afterDecline, OPTIONS);
    expect(stale).toMatchObject({ code: 'stale_pending', fix: { action: 'record_outcome', next: 'failed', object: 'cs_2' } });

    // The recorded session still open: pending, even once the other has expired.
    const waiting = facts({
      aggregateId: 't-1',
      row: trip('pending'),
      sessions: [{ ...orphan, status: 'expired' }, session('cs_2', 'open', 'unpaid')],
    });
    expect(stripeVerdict(waiting)).toMatchObject({ outcome: 'pending', primary: { id: 'cs_2' } });
    expect(compareAggregate(waiting, OPTIONS)).toEqual([]);
  });

  it('a fully refunded charge makes the payment refunded; the row-named PaymentIntent is the primary one', () => {
    expect(stripeVerdict(facts({ intents: [intent('pi_1', 'succeeded', { refunded: true, amountRefunded: 1000 })] })).outcome).toBe(
      'refunded',
    );
    const verdict = stripeVerdict(
      facts({ row: row('succeeded', { paymentIntentId: 'pi_2' }), intents: [intent('pi_1', 'succeeded'), intent('pi_2', 'succeeded')] }),
    );
    expect(verdict).toMatchObject({ outcome: 'succeeded', primary: { id: 'pi_2' } });
  });
});

describe('reconcile decisions: discrepancy codes', () => {
  it('agreement yields nothing', () => {
    expect(codes(facts({ row: row('succeeded'), intents: [intent('pi_1', 'succeeded')] }))).toEqual([]);
    expect(codes(facts({ row: row('failed'), intents: [intent('pi_1', 'canceled')] }))).toEqual([]);
    expect(codes(facts({ row: row('pending', { paymentIntentId: null }) }))).toEqual([]);
  });

  it('missing_local_success for a pending, cancelled or absent row (repairable), flag-only for a failed one', () => {
    for (const status of ['pending', 'requires_action', 'cancelled'] as const) {
      const [found] = compareAggregate(facts({ row: row(status), intents: [intent('pi_1', 'succeeded')] }), OPTIONS);
      expect(found).toMatchObject({ code: 'missing_local_success', fix: { action: 'record_outcome', next: 'succeeded' } });
    }
    const [noRow] = compareAggregate(facts({ intents: [intent('pi_1', 'succeeded')] }), OPTIONS);
    expect(noRow).toMatchObject({ code: 'missing_local_success', local: null, fix: { action: 'record_outcome' } });
    const [failed] = compareAggregate(facts({ row: row('failed'), intents: [intent('pi_1', 'succeeded')] }), OPTIONS);
    expect(failed).toMatchObject({ code: 'missing_local_success', fix: { action: 'none' } });
  });

  it('local_success_not_at_stripe, refund_* and orphan_at_stripe are never repaired automatically', () => {
    const flagged = (f: AggregateFacts) => compareAggregate(f, OPTIONS).map((d) => [d.code, d.fix.action]);
    expect(flagged(facts({ row: row('succeeded') }))).toEqual([['local_success_not_at_stripe', 'none']]);
    expect(flagged(facts({ row: row('succeeded'), intents: [intent('pi_1', 'canceled')] }))).toEqual([
      ['local_success_not_at_stripe', 'none'],
    ]);
    expect(flagged(facts({ row: row('refunded'), intents: [intent('pi_1', 'succeeded')] }))).toEqual([
      ['refund_missing_at_stripe', 'none'],
    ]);
    expect(flagged(facts({ intents: [intent('pi_1', 'canceled')] }))).toEqual([['orphan_at_stripe', 'none']]);
    expect(
      flagged(facts({ row: row('succeeded'), intents: [intent('pi_1', 'succeeded', { refunded: true, amountRefunded: 1000 })] })),
    ).toEqual([['refund_missing_local', 'record_outcome']]);
  });

  it('stale_pending only once the row has waited longer than the threshold', () => {
    const declined = intent('pi_1', 'requires_payment_method', { lastError: { code: 'card_declined', declineCode: 'insufficient_funds' } });
    expect(codes(facts({ row: row('pending', {}, 60_000), intents: [declined] }))).toEqual([]);
    const [stale] = compareAggregate(facts({ row: row('pending', {}, 3_600_000), intents: [declined] }), OPTIONS);
    expect(stale).toMatchObject({ code: 'stale_pending', fix: { action: 'record_outcome', next: 'failed' } });
  });

  it('amount and currency mismatches, and a double charge with the row-named PaymentIntent kept', () => {
    expect(codes(facts({ row: row('succeeded', { amount: 1200 }), intents: [intent('pi_1', 'succeeded')] }))).toEqual(['amount_mismatch']);
    expect(codes(facts({ row: row('succeeded', { currency: 'eur' }), intents: [intent('pi_1', 'succeeded')] }))).toEqual([
      'currency_mismatch',
    ]);
    const [double] = compareAggregate(
      facts({ row: row('succeeded', { paymentIntentId: 'pi_2' }), intents: [intent('pi_1', 'succeeded'), intent('pi_2', 'succeeded')] }),
      OPTIONS,
    );
    expect(double).toMatchObject({ code: 'double_charge', fix: { action: 'refund_duplicates', keep: 'pi_2', refund: ['pi_1'] } });
  });
});

describe('reconcile decisions: repairs', () => {
  const lost = compareAggregate(facts({ row: row('pending'), intents: [intent('pi_1', 'succeeded', { chargeId: 'ch_1' })] }), OPTIONS)[0]!;
  const plan = lost.fix as Extract<typeof lost.fix, { action: 'record_outcome' }>;

  it('moves the row and writes payments.completed, with an event id derived from the Stripe object', () => {
    const first = decideRepair(plan, row('pending'), 'paymentsctl/reconcile');
    expect(first.result).toBe('repaired');
    expect(first.write).toMatchObject({ aggregateId: 'o-1', status: 'succeeded', paymentIntentId: 'pi_1' });
    expect(first.events).toHaveLength(1);
    expect(first.events![0]).toMatchObject({ topic: 'payments.completed', key: 'o-1', headers: { reconciled_from: 'pi_1' } });
    expect(first.events![0]!.data).toMatchObject({
      order_id: 'o-1',
      payment_intent_id: 'pi_1',
      charge_id: 'ch_1',
      amount: 1000,
      status: 'succeeded',
    });
    expect(decideRepair(plan, row('pending'), 'x').events![0]!.eventId).toBe(first.events![0]!.eventId);
  });

  it('does nothing to a row that already has the outcome, and never moves one backwards', () => {
    expect(decideRepair(plan, row('succeeded'), 'x')).toEqual({ result: 'already_repaired' });
    expect(decideRepair(plan, row('failed'), 'x')).toEqual({ result: 'not_repairable' });
    expect(decideRepair(plan, row('refunded'), 'x')).toEqual({ result: 'not_repairable' });
  });

  it('a payment taken after a cancellation also has the saga give it back (orders.cancelled), as the webhook would', () => {
    const repaired = decideRepair(plan, row('cancelled', { amount: null, currency: null }), 'x');
    expect(repaired.events!.map((event) => event.topic)).toEqual(['payments.completed', 'orders.cancelled']);
  });
});

describe('a refunded duplicate charge', () => {
  it("does not make the webhook mark the order's own payment refunded", () => {
    const refundedDuplicate = {
      next: 'refunded' as const,
      aggregateId: 'o-1',
      paymentIntentId: 'pi_duplicate',
      kind: 'payment_intent' as const,
      ids: { order_id: 'o-1' },
      refund: { amount: 1000 },
    };
    expect(decideWebhookEvent('evt_1', refundedDuplicate, row('succeeded'), 'x')).toEqual({
      result: { outcome: 'stale', aggregateId: 'o-1', currentStatus: 'succeeded' },
    });
    const ownRefund = { ...refundedDuplicate, paymentIntentId: 'pi_1' };
    expect(decideWebhookEvent('evt_2', ownRefund, row('succeeded'), 'x').result.outcome).toBe('published:payments.refunded');
  });
});

describe('reconcile window', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  it('takes ISO dates, times and spans before now', () => {
    expect(parseInstant('24h', '--since', now).toISOString()).toBe('2026-03-09T12:00:00.000Z');
    expect(parseInstant('2026-01-31', '--since', now).toISOString()).toBe('2026-01-31T00:00:00.000Z');
    expect(() => parseInstant('yesterday', '--since', now)).toThrow(/--since must be an ISO date/);
    expect(() => resolveWindow({ since: '1h', until: '2h' }, now, () => undefined)).toThrow(/after --until/);
    expect(resolveWindow({ all: true }, now, () => new Date('2026-01-01T00:00:00Z')).since.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('is cut at UTC midnights into days that neither overlap nor leave gaps', () => {
    const days = daysOf({ since: new Date('2026-03-08T18:00:00Z'), until: new Date('2026-03-10T06:00:00Z') });
    expect(days.map((day) => day.from.toISOString())).toEqual([
      '2026-03-08T18:00:00.000Z',
      '2026-03-09T00:00:00.000Z',
      '2026-03-10T00:00:00.000Z',
    ]);
    for (let i = 1; i < days.length; i++) expect(days[i]!.from).toEqual(days[i - 1]!.to);
    expect(days.at(-1)!.to.getTime()).toBeGreaterThan(Date.parse('2026-03-10T06:00:00Z'));
  });
});

describe('reconcile report file and rate limiting', () => {
  it('writes CSV with quoted fields and JSON lines', () => {
    const report = {
      discrepancies: [
        {
          code: 'amount_mismatch',
          aggregateId: 'o-1',
          local: { status: 'succeeded', amount: 1200, currency: 'usd', paymentIntentId: 'pi_1', checkoutSessionId: null },
          stripe: { object: 'pi_1', status: 'succeeded', amount: 1000, currency: 'usd', amountRefunded: 0 },
          detail: 'the row says 1200, "pi_1" says 1000',
          fix: { action: 'none', why: 'x' },
        },
      ],
    } as unknown as ReconcileReport;
    const csv = reportLines(report, 'csv').trim().split('\n');
    expect(csv[1]).toBe(
      'amount_mismatch,o-1,succeeded,1200,usd,pi_1,pi_1,succeeded,1000,usd,0,none,,"the row says 1200, ""pi_1"" says 1000"',
    );
    expect(JSON.parse(reportLines(report, 'jsonl'))).toMatchObject({ code: 'amount_mismatch' });
    expect(reportFormatOf('a.NDJSON')).toBe('jsonl');
    expect(() => reportFormatOf('a.xlsx')).toThrow(/\.csv or \.jsonl/);
  });

  it('backs off exponentially with jitter, or as long as Retry-After says', () => {
    expect(backoffMs(0, '2', {})).toBe(2000);
    for (let attempt = 0; attempt < 6; attempt++) {
      const base = Math.min(8000, 250 * 2 ** attempt);
      const delay = backoffMs(attempt, undefined, {});
      expect(delay).toBeGreaterThanOrEqual(base / 2);
      expect(delay).toBeLessThanOrEqual(base);
    }
  });

  it("the emulator's meter finds the busiest second and refuses what is over the limit", () => {
    const meter = new RequestMeter();
    const admitted = [0, 100, 200, 300, 900, 1250, 1300].map((at) => meter.arrive(3, at));
    expect(admitted).toEqual([true, true, true, false, false, true, true]);
    expect(meter.stats()).toEqual({ total: 7, rateLimited: 2, peakPerSecond: 5 });
  });
});
