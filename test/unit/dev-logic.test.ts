import { describe, expect, it } from 'vitest';
import { chooseRefusedOrders, describeIncident, incidentCheck, type IncidentEvidence } from '../../src/dev/incident.js';
import { checkInvariants, ownersOf, type RunEvidence } from '../../src/dev/invariants.js';
import { planOrders } from '../../src/dev/plan.js';
import { RestartingCounter, sumSamples } from '../../src/dev/prometheus.js';
import { checkoutRequestedSchema, orderPlacedSchema } from '../../src/payments/events.js';
import type { PaymentStatus } from '../../src/payments/status.js';

describe('planOrders', () => {
  const mix = { count: 4000, declineRate: 0.1, checkoutShare: 0.25, seed: 42, runId: 'r1' };

  it('mixes direct charges, checkouts and declines in the asked-for shares', () => {
    const orders = planOrders(mix);
    expect(orders).toHaveLength(4000);
    const checkouts = orders.filter((o) => o.flow === 'checkout').length;
    const declines = orders.filter((o) => !o.pays).length;
    expect(checkouts / 4000).toBeGreaterThan(0.22);
    expect(checkouts / 4000).toBeLessThan(0.28);
    expect(declines / 4000).toBeGreaterThan(0.08);
    expect(declines / 4000).toBeLessThan(0.12);
    expect(new Set(orders.map((o) => o.aggregateId)).size).toBe(4000);
  });

  it('gives each order an event the worker accepts and a card or page outcome that matches whether it pays', () => {
    for (const order of planOrders(mix)) {
      expect(order.aggregateId).toContain('_r1_');
      if (order.flow === 'direct') {
        const event = orderPlacedSchema.parse(order.data);
        expect(order.topic).toBe('orders.placed');
        expect(event.order_id).toBe(order.aggregateId);
        expect(event.payment_method.includes('Declined')).toBe(!order.pays);
        expect(order.checkoutCompletion).toBeUndefined();
      } else {
        const event = checkoutRequestedSchema.parse(order.data);
        expect(order.topic).toBe('checkout.requested');
        expect(event.trip_id).toBe(order.aggregateId);
        expect(order.checkoutCompletion === 'async_failed').toBe(!order.pays);
      }
    }
  });

  it('is the same for the same seed and differs for another', () => {
    expect(planOrders(mix)).toEqual(planOrders(mix));
    expect(planOrders({ ...mix, seed: 43 })).not.toEqual(planOrders(mix));
  });

  it('honours the extremes', () => {
    expect(planOrders({ ...mix, count: 200, declineRate: 0, checkoutShare: 0 }).every((o) => o.pays && o.flow === 'direct')).toBe(true);
    expect(planOrders({ ...mix, count: 200, declineRate: 1, checkoutShare: 1 }).every((o) => !o.pays && o.flow === 'checkout')).toBe(true);
  });
});

describe('checkInvariants', () => {
  /** a: paid, b: paid through checkout, c: declined and released */
  function evidence(change: Partial<RunEvidence> = {}): RunEvidence {
    return {
      orders: [
        { aggregateId: 'a', pays: true },
        { aggregateId: 'b', pays: true },
        { aggregateId: 'c', pays: false },
      ],
      requested: 3,
      statuses: new Map<string, PaymentStatus>([
        ['a', 'succeeded'],
        ['b', 'succeeded'],
        ['c', 'failed'],
      ]),
      compensations: new Map([['c', 1]]),
      charges: new Map([
        ['a', 1],
        ['b', 1],
      ]),
      users: new Map([
        ['a', 'rider_1'],
        ['b', 'customer_2'],
        ['c', 'rider_1'],
      ]),
      history: new Map([
        ['a', { charge: ['rider_1'], refund: [] }],
        ['b', { charge: ['customer_2'], refund: [] }],
      ]),
      outboxBacklog: 0,
      deadLetters: 0,
      consumerLag: 0,
      unexpectedExits: 0,
      ...change,
    };
  }
  const failed = (e: RunEvidence) => checkInvariants(e).filter((c) => !c.ok);

  it('passes a run where everything adds up', () => {
    const checks = checkInvariants(evidence());
    expect(checks.length).toBeGreaterThanOrEqual(10);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('names an order charged twice', () => {
    const [check, ...rest] = failed(
      evidence({
        charges: new Map([
          ['a', 2],
          ['b', 1],
        ]),
      }),
    );
    expect(check?.name).toBe('at most one successful charge per order');
    expect(check?.detail).toContain('a (2 charges)');
    expect(rest).toEqual([]);
  });

  it('names an order without a terminal outcome, and one with no payment at all', () => {
    const statuses = new Map<string, PaymentStatus>([
      ['a', 'succeeded'],
      ['b', 'requires_action'],
    ]);
    const names = failed(evidence({ statuses, charges: new Map([['a', 1]]), compensations: new Map() })).map((c) => c.name);
    expect(names).toContain('every order reached exactly one terminal outcome');
    const detail = failed(evidence({ statuses, charges: new Map([['a', 1]]), compensations: new Map() }))[0]!.detail;
    expect(detail).toContain('b (requires_action)');
    expect(detail).toContain('c (no payment)');
  });

  it('fails a declined order that was never released, and a paid order that was', () => {
    expect(failed(evidence({ compensations: new Map() })).map((c) => c.name)).toEqual(['every declined order was compensated']);
    expect(
      failed(
        evidence({
          compensations: new Map([
            ['a', 1],
            ['c', 1],
          ]),
        }),
      ).map((c) => c.name),
    ).toEqual(['no paid order was released']);
  });

  it('fails when the emulator and the payments table disagree about who paid', () => {
    // the card was charged but the table says failed: money taken, order released
    const names = failed(
      evidence({
        charges: new Map([
          ['a', 1],
          ['b', 1],
          ['c', 1],
        ]),
      }),
    ).map((c) => c.name);
    expect(names).toEqual(['the emulator charged exactly the orders the payments table says succeeded']);
    // the table says succeeded but nothing was charged
    expect(failed(evidence({ charges: new Map([['a', 1]]) })).map((c) => c.name)).toEqual([
      'the emulator charged exactly the orders the payments table says succeeded',
    ]);
  });

  it('counts a refunded payment as charged', () => {
    expect(
      failed(
        evidence({
          statuses: new Map<string, PaymentStatus>([
            ['a', 'refunded'],
            ['b', 'succeeded'],
            ['c', 'failed'],
          ]),
          history: new Map([
            ['a', { charge: ['rider_1'], refund: ['rider_1'] }],
            ['b', { charge: ['customer_2'], refund: [] }],
          ]),
        }),
      ).map((c) => c.name),
    ).toEqual(['every outcome is the one the card called for']);
  });

  it("fails a paid order missing from its user's history, entered twice, under another user, or refunded without an entry", () => {
    const history = "every paid order is in its user's history once";
    const wrong = (entries: [string, { charge: string[]; refund: string[] }][], statuses?: Map<string, PaymentStatus>) =>
      failed(evidence({ history: new Map(entries), ...(statuses ? { statuses } : {}) }));
    const missing = wrong([['a', { charge: ['rider_1'], refund: [] }]]);
    expect(missing.map((c) => c.name)).toEqual([history]);
    expect(missing[0]!.detail).toContain('b (succeeded, 0 charge, 0 refund; user customer_2)');
    expect(
      wrong([
        ['a', { charge: ['rider_1', 'rider_1'], refund: [] }],
        ['b', { charge: ['customer_2'], refund: [] }],
      ]).map((c) => c.name),
    ).toEqual([history]);
    expect(
      wrong([
        ['a', { charge: ['rider_1'], refund: [] }],
        ['b', { charge: ['customer_9'], refund: [] }],
      ])[0]!.detail,
    ).toContain('1 charge for customer_9');
    const refunded = new Map<string, PaymentStatus>([
      ['a', 'refunded'],
      ['b', 'succeeded'],
      ['c', 'failed'],
    ]);
    expect(
      wrong(
        [
          ['a', { charge: ['rider_1'], refund: [] }],
          ['b', { charge: ['customer_2'], refund: [] }],
        ],
        refunded,
      ).map((c) => c.name),
    ).toContain(history);
    // A charge entry for an order whose payment failed is money the user never paid.
    expect(
      wrong([
        ['a', { charge: ['rider_1'], refund: [] }],
        ['b', { charge: ['customer_2'], refund: [] }],
        ['c', { charge: ['rider_1'], refund: [] }],
      ]).map((c) => c.name),
    ).toEqual([history]);
  });

  it('fails on leftovers: outbox backlog, dead letters, lag, crashes, missing orders', () => {
    const names = failed(evidence({ outboxBacklog: 2, deadLetters: 1, consumerLag: 5, unexpectedExits: 1, requested: 4 })).map(
      (c) => c.name,
    );
    expect(names).toEqual([
      'every order was placed',
      'the outbox is drained',
      'nothing in a dead-letter topic',
      'the worker consumed everything',
      'roles exited only when killed',
    ]);
  });
});

describe('a staged incident (dev --incident)', () => {
  const plan = planOrders({ count: 400, declineRate: 0.1, checkoutShare: 0.25, seed: 9, runId: 'r9' });
  const refused = chooseRefusedOrders(plan, 9);
  const waiting = plan.find((order) => order.flow === 'checkout' && order.pays)!.aggregateId;
  const settled = new Map<string, PaymentStatus>(
    plan
      .filter((o) => !refused.includes(o.aggregateId) && o.aggregateId !== waiting)
      .map((o) => [o.aggregateId, o.pays ? 'succeeded' : 'failed']),
  );
  settled.set(waiting, 'pending');
  const staged = (change: Partial<IncidentEvidence> = {}): IncidentEvidence => ({
    plan,
    refused,
    statuses: settled,
    charges: new Map([[waiting, 1]]),
    deadLetters: refused.length,
    droppedDeliveries: 4,
    ...change,
  });

  it('refuses paying direct orders only, the same ones for the same seed', () => {
    expect(refused).toHaveLength(3);
    expect(new Set(refused).size).toBe(3);
    for (const id of refused) expect(plan.find((o) => o.aggregateId === id)).toMatchObject({ flow: 'direct', pays: true });
    expect(chooseRefusedOrders(plan, 9)).toEqual(refused);
    expect(chooseRefusedOrders(plan, 10)).not.toEqual(refused);
  });

  it('tells the refused orders from those waiting on a dropped webhook, and holds when that is all', () => {
    const incident = describeIncident(staged());
    expect(incident).toMatchObject({ deadLettered: refused, awaitingWebhooks: [waiting], healed: false });
    expect(incident.heal).toEqual(['paymentsctl replay dlq --execute', 'paymentsctl replay stripe-events --execute', 'paymentsctl status']);
    expect(incidentCheck(staged(), incident)).toMatchObject({ ok: true });
  });

  it('fails when the incident is not the one staged', () => {
    const problem = (change: Partial<IncidentEvidence>) => {
      const evidence = staged(change);
      return incidentCheck(evidence, describeIncident(evidence));
    };
    expect(problem({ charges: new Map([[refused[0]!, 1]]) }).detail).toContain('charged anyway');
    expect(problem({ deadLetters: 2 }).detail).toContain('2 messages in the dead-letter topics, 3 expected');
    expect(problem({ droppedDeliveries: 0 }).detail).toContain('no webhook was dropped');
    const direct = plan.find((o) => o.flow === 'direct' && !refused.includes(o.aggregateId))!.aggregateId;
    const statuses = new Map(settled);
    statuses.delete(direct);
    expect(problem({ statuses }).detail).toContain(`direct orders left unsettled: ${direct}`);
  });

  it('keeps its orders and dead letters out of the other checks until it is healed', () => {
    const orders = plan.map((o) => ({ aggregateId: o.aggregateId, pays: o.pays }));
    const evidence: RunEvidence = {
      orders,
      requested: plan.length,
      statuses: settled,
      compensations: new Map(plan.filter((o) => !o.pays).map((o) => [o.aggregateId, 1])),
      charges: new Map(plan.filter((o) => o.pays && !refused.includes(o.aggregateId)).map((o) => [o.aggregateId, 1])),
      users: ownersOf(plan),
      history: new Map(
        plan
          .filter((o) => o.pays && !refused.includes(o.aggregateId) && o.aggregateId !== waiting)
          .map((o) => [o.aggregateId, { charge: [ownersOf(plan).get(o.aggregateId)!], refund: [] }]),
      ),
      outboxBacklog: 0,
      deadLetters: 3,
      consumerLag: 0,
      unexpectedExits: 0,
    };
    const unsettled = new Set([...refused, waiting]);
    expect(checkInvariants({ ...evidence, incident: { unsettled, deadLetters: 3 } }).filter((c) => !c.ok)).toEqual([]);
    expect(
      checkInvariants(evidence)
        .filter((c) => !c.ok)
        .map((c) => c.name),
    ).toEqual([
      'every order reached exactly one terminal outcome',
      'the emulator charged exactly the orders the payments table says succeeded',
      'nothing in a dead-letter topic',
    ]);
  });
});

describe('reading role counters', () => {
  const text = [
    '# HELP paymentsctl_worker_messages_processed_total x',
    'paymentsctl_worker_messages_processed_total{handler="payments",topic="orders.placed",result="duplicate"} 3',
    'paymentsctl_worker_messages_processed_total{handler="saga",topic="payments.failed",result="duplicate"} 2',
    'paymentsctl_worker_messages_processed_total{handler="payments",topic="orders.placed",result="charged"} 40',
    'paymentsctl_webhook_duplicates_total 7',
  ].join('\n');

  it('sums the samples whose labels match', () => {
    expect(sumSamples(text, 'paymentsctl_worker_messages_processed_total', { result: 'duplicate' })).toBe(5);
    expect(sumSamples(text, 'paymentsctl_webhook_duplicates_total')).toBe(7);
    expect(sumSamples(text, 'paymentsctl_missing_total')).toBe(0);
  });

  it('keeps counting across a process restart', () => {
    const counter = new RestartingCounter();
    for (const value of [0, 4, 9, 2, 5, 5, 1]) counter.observe(value);
    // 9 before the first restart, 5 before the second, 1 since
    expect(counter.total).toBe(15);
  });

  it('keeps what a process counted when the next one has already counted more by the first reading', () => {
    const counter = new RestartingCounter();
    counter.observe(3, 101);
    counter.observe(7, 101);
    // pid 102 replaced it and absorbed 12 before it was read: no drop, but a new process.
    counter.observe(12, 102);
    counter.observe(13, 102);
    expect(counter.total).toBe(20);
  });
});
