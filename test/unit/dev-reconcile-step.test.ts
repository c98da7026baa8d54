import { describe, expect, it } from 'vitest';
import { mergeReconciliations, reconciliationCheck } from '../../src/dev/reconcile-step.js';

const pass = (found: number, healed: number, remaining: number, byCode: Record<string, number>, stripeRequests = 10) => ({
  found,
  healed,
  remaining,
  byCode,
  stripeRequests,
});

describe('dev: reconciliation over several passes', () => {
  it('adds up what each pass found and healed, and keeps what the last one left', () => {
    const merged = mergeReconciliations(
      pass(9, 9, 1, { missing_local_success: 7, stale_pending: 2 }),
      pass(1, 1, 0, { stale_pending: 1 }, 6),
    );
    expect(merged).toEqual(pass(10, 10, 0, { missing_local_success: 7, stale_pending: 3 }, 16));
    expect(mergeReconciliations(undefined, pass(0, 0, 0, {}))).toEqual(pass(0, 0, 0, {}));
  });

  it('under chaos every lost outcome must be healed; without chaos there must be nothing to heal', () => {
    expect(reconciliationCheck(true, pass(3, 3, 0, { stale_pending: 3 })).ok).toBe(true);
    expect(reconciliationCheck(true, pass(3, 2, 1, { stale_pending: 3 }))).toMatchObject({
      ok: false,
      detail: expect.stringContaining('1 discrepancies left'),
    });
    expect(reconciliationCheck(false, pass(1, 1, 0, { stale_pending: 1 })).ok).toBe(false);
    expect(reconciliationCheck(false, undefined).ok).toBe(false);
  });
});
