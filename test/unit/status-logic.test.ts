import { describe, expect, it } from 'vitest';
import { lagAt, partitionVerdict, worstVerdict, type PartitionLook } from '../../src/ops/status/lag-verdict.js';
import { findingsOf } from '../../src/ops/status/findings.js';
import { DEFAULT_THRESHOLDS } from '../../src/ops/status/report.js';
import { stripeMode } from '../../src/ops/status/stripe-check.js';
import { emptyOutcomes } from '../../src/ops/pipeline-reads.js';

const look = (committed: number | null, high: number, low = 0, atMs = 0): PartitionLook => ({
  atMs,
  committed: committed === null ? null : BigInt(committed),
  low: BigInt(low),
  high: BigInt(high),
});

describe('Burrow verdicts over a window of looks', () => {
  it('lag counts from the committed offset, or from the log start when the group never committed or retention passed it', () => {
    expect(lagAt(look(5, 12))).toBe(7n);
    expect(lagAt(look(null, 12, 4))).toBe(8n);
    expect(lagAt(look(2, 12, 4))).toBe(8n);
    expect(lagAt(look(12, 12))).toBe(0n);
  });

  it('OK when caught up, whatever came before', () => {
    expect(partitionVerdict([look(1, 5), look(2, 9), look(9, 9)]).verdict).toBe('OK');
  });

  it('STOP when the group never committed while messages wait', () => {
    const v = partitionVerdict([look(null, 3), look(null, 3)]);
    expect(v).toMatchObject({ verdict: 'STOP', lag: 3n });
  });

  it('STALL when the offset does not move over the looks while lag stays above zero', () => {
    expect(partitionVerdict([look(4, 6), look(4, 6), look(4, 8)]).verdict).toBe('STALL');
    // one look cannot tell a stall from a pause between commits
    expect(partitionVerdict([look(4, 6)]).verdict).toBe('OK');
  });

  it('WARN when lag grows over the last N looks though the group still commits', () => {
    expect(partitionVerdict([look(1, 5), look(2, 8), look(3, 12)], 3)).toMatchObject({ verdict: 'WARN', lag: 9n });
    expect(partitionVerdict([look(1, 5), look(2, 8), look(3, 12)], 4).verdict).toBe('OK');
    expect(partitionVerdict([look(1, 5), look(4, 8), look(7, 12)], 3).verdict).toBe('OK'); // 4, 4, 5: not growing each time
  });

  it('a consumer that moves and keeps pace is OK', () => {
    expect(partitionVerdict([look(1, 5), look(3, 7), look(6, 9)]).verdict).toBe('OK');
  });

  it('the worst verdict of a group', () => {
    expect(worstVerdict(['OK', 'WARN', 'STALL', 'OK'])).toBe('STALL');
    expect(worstVerdict([])).toBe('OK');
  });
});

const quiet = {
  schema: { state: 'current' as const, at: '005_transactions.sql' },
  outbox: { topics: [], setAside: [], retainMs: 86_400_000 },
  publisher: {
    leaders: [{ topic: 'orders.placed', leader: { pid: 1, applicationName: 'x', clientAddress: null, connectedSince: '' } }],
    instances: 1,
    latestTerm: '1',
  },
  consumers: [],
  retries: [],
  deadLetters: [],
  payments: { byStatus: emptyOutcomes(), stuck: [], stuckCount: 0 },
  webhooks: { lastReceivedAgeMs: 1_000, lastHourByType: {} },
  stripe: { configured: false, reachable: null, mode: null },
};

describe('findings: thresholds crossed', () => {
  it('a quiet pipeline has none', () => {
    expect(findingsOf(quiet, DEFAULT_THRESHOLDS)).toEqual([]);
  });

  it('a schema behind, ahead or drifted is a finding saying what to do', () => {
    const behind = findingsOf(
      {
        ...quiet,
        schema: {
          state: 'behind',
          at: '003_payment_tombstones.sql',
          needs: '005_transactions.sql',
          pending: ['004_reconcile.sql', '005_transactions.sql'],
        },
      },
      DEFAULT_THRESHOLDS,
    );
    expect(behind).toEqual([
      {
        section: 'schema',
        kind: 'schema_behind',
        message: 'schema: at 003_payment_tombstones.sql, this binary needs 005_transactions.sql (2 pending): run `paymentsctl migrate`',
        value: '003_payment_tombstones.sql',
      },
    ]);
    const ahead = findingsOf(
      { ...quiet, schema: { state: 'ahead', at: '009_x.sql', needs: '005_transactions.sql', unknown: ['009_x.sql'], pending: [] } },
      DEFAULT_THRESHOLDS,
    );
    expect(ahead[0]).toMatchObject({ kind: 'schema_ahead' });
    expect(
      findingsOf(
        { ...quiet, schema: { state: 'drifted', at: '005_transactions.sql', drifted: ['001_initial.sql'] } },
        DEFAULT_THRESHOLDS,
      )[0],
    ).toMatchObject({
      kind: 'schema_drifted',
      message: expect.stringContaining('001_initial.sql'),
    });
  });

  it('an old unpublished row, a set-aside row, a topic without a leader, dead letters, a stuck payment, Stripe down', () => {
    const findings = findingsOf(
      {
        ...quiet,
        outbox: {
          ...quiet.outbox,
          topics: [{ topic: 'orders.placed', unpublished: 3, setAside: 1, oldestUnpublishedMs: 61_000, pastRetention: 0 }],
        },
        publisher: { leaders: [{ topic: 'payments.failed', leader: null }], instances: 0, latestTerm: null },
        deadLetters: [
          {
            topic: 'p.orders.placed.dlq',
            depth: 2,
            replayed: 0,
            oldestAgeMs: 5,
            errorKinds: { permanent: 2 },
            reasons: { permanent_error: 2 },
            sampled: 2,
          },
        ],
        payments: { ...quiet.payments, stuck: [{ aggregateId: 'ord_1', status: 'pending', ageMs: 1_000_000 }], stuckCount: 1 },
        stripe: { configured: true, reachable: false, mode: 'test', error: 'ECONNREFUSED' },
      },
      DEFAULT_THRESHOLDS,
    );
    expect(findings.map((f) => f.kind)).toEqual([
      'outbox_oldest_unpublished',
      'outbox_set_aside',
      'publisher_no_leader',
      'dead_letters',
      'payments_stuck',
      'stripe_unreachable',
    ]);
    expect(findings.find((f) => f.kind === 'dead_letters')?.message).toContain('permanent_error ×2');
    expect(findings.find((f) => f.kind === 'payments_stuck')?.message).toContain('ord_1');
  });

  it('thresholds are respected: a young backlog and a tolerated DLQ depth are no finding', () => {
    const findings = findingsOf(
      {
        ...quiet,
        outbox: {
          ...quiet.outbox,
          topics: [{ topic: 'orders.placed', unpublished: 3, setAside: 0, oldestUnpublishedMs: 59_000, pastRetention: 0 }],
        },
        deadLetters: [{ topic: 'd', depth: 2, replayed: 0, oldestAgeMs: 5, errorKinds: {}, reasons: {}, sampled: 0 }],
      },
      { ...DEFAULT_THRESHOLDS, maxDeadLetters: 2 },
    );
    expect(findings).toEqual([]);
  });

  it('dead letters replay dlq has put back do not count: depth is net of them', () => {
    const dlq = { topic: 'p.orders.placed.dlq', depth: 3, oldestAgeMs: 5, errorKinds: {}, reasons: {}, sampled: 3 };
    expect(findingsOf({ ...quiet, deadLetters: [{ ...dlq, replayed: 3 }] }, DEFAULT_THRESHOLDS)).toEqual([]);
    const partly = findingsOf({ ...quiet, deadLetters: [{ ...dlq, replayed: 1 }] }, DEFAULT_THRESHOLDS);
    expect(partly).toEqual([expect.objectContaining({ kind: 'dead_letters', value: 2 })]);
    expect(partly[0]!.message).toContain('2 in p.orders.placed.dlq not replayed (3 held)');
  });

  it('a group without members, a stalled partition and a group too far behind name the group', () => {
    const findings = findingsOf(
      {
        ...quiet,
        consumers: [
          {
            groupId: 'p.paymentsctl-worker',
            state: 'Empty',
            members: [],
            lag: 4,
            verdict: 'STALL',
            maxTimeLagMs: 400_000,
            partitions: [
              {
                topic: 'p.orders.placed',
                partition: 0,
                committed: '3',
                high: '7',
                lag: 4,
                verdict: 'STALL',
                why: 'stuck',
                timeLagMs: 400_000,
              },
            ],
          },
        ],
      },
      DEFAULT_THRESHOLDS,
    );
    expect(findings.map((f) => f.kind)).toEqual(['consumer_no_members', 'consumer_stall', 'consumer_time_lag']);
    for (const f of findings) expect(f.message).toContain('p.paymentsctl-worker');
  });

  it('webhook silence only when asked for', () => {
    const silent = { ...quiet, webhooks: { lastReceivedAgeMs: null, lastHourByType: {} } };
    expect(findingsOf(silent, DEFAULT_THRESHOLDS)).toEqual([]);
    expect(findingsOf(silent, { ...DEFAULT_THRESHOLDS, maxWebhookSilenceMs: 60_000 }).map((f) => f.kind)).toEqual(['webhooks_silent']);
  });
});

describe('Stripe mode from the key', () => {
  it('test, live, unknown', () => {
    expect(stripeMode('sk_test_abc')).toBe('test');
    expect(stripeMode('rk_live_abc')).toBe('live');
    expect(stripeMode('nonsense')).toBe('unknown');
  });
});

describe('a stopped consumer: lag growing, then stalled', () => {
  it('WARN while messages keep coming, STALL once they stop, judged on the recent looks', () => {
    const window = [look(3, 3), look(3, 4), look(3, 5), look(3, 6)];
    expect(partitionVerdict(window).verdict).toBe('WARN');
    expect(partitionVerdict([...window, look(3, 6), look(3, 6)]).verdict).toBe('STALL');
    // a consumer that moved earlier in a long window but is stuck now
    expect(partitionVerdict([look(0, 6), look(2, 6), look(4, 6), look(4, 6), look(4, 6)]).verdict).toBe('STALL');
  });
});
