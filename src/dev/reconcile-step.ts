import type { Logger } from '../log.js';
import { runReconcile } from '../ops/reconcile/reconcile.js';
import type { DevEnvironment } from './environment.js';
import type { DevReconciliation, InvariantCheck } from './types.js';

/**
 * The end of a `dev` run: `reconcile --fix --execute` over the run's window, for the run's own
 * orders only (the stack's emulator may hold other runs' objects). Under --chaos the emulator
 * dropped a share of webhooks, and this is what heals the outcomes they carried; without chaos it
 * must find nothing at all.
 */
export async function reconcileRun(dev: DevEnvironment, startedAt: number, log: Logger, signal: AbortSignal): Promise<DevReconciliation> {
  const ownOrder = (aggregateId: string) => aggregateId.includes(`_${dev.runId}_`);
  const report = await runReconcile({
    databaseUrl: dev.databaseUrl,
    stripe: { apiKey: dev.stripeApiKey, apiBase: dev.stripeApiBase },
    // A minute of margin either side: Stripe's `created` is whole seconds.
    window: { since: new Date(startedAt - 60_000).toISOString(), until: new Date(Date.now() + 60_000).toISOString() },
    fix: true,
    execute: true,
    refundDuplicates: false,
    ratePerSecond: 20,
    // The run has drained: whatever is still pending while Stripe is final is stale.
    staleAfterMs: 0,
    restart: true,
    accept: ownOrder,
    log,
    signal,
  });
  const byCode = Object.fromEntries(
    Object.entries(report.summary)
      .filter(([, row]) => row.found > 0)
      .map(([code, row]) => [code, row.found]),
  );
  return {
    found: report.totals.found,
    healed: report.discrepancies.filter((item) => item.repair?.result === 'repaired').length,
    remaining: report.totals.remaining,
    byCode,
    stripeRequests: report.stripe.requests,
  };
}

/** Under chaos every lost outcome must be healed; without chaos there must have been none to heal. */
export function reconciliationCheck(chaos: boolean, result: DevReconciliation | undefined): InvariantCheck {
  const name = chaos ? 'reconciliation healed every lost outcome' : 'reconciliation found the books in agreement';
  if (!result) return { name, ok: false, detail: 'reconciliation did not run' };
  const codes = Object.entries(result.byCode)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  if (chaos) {
    return result.remaining === 0
      ? { name, ok: true, detail: `${result.healed} outcomes healed from Stripe (${codes || 'nothing lost'}), none left` }
      : { name, ok: false, detail: `${result.remaining} discrepancies left after repair (${codes})` };
  }
  return result.found === 0
    ? { name, ok: true, detail: 'no discrepancy between the payments table and Stripe' }
    : { name, ok: false, detail: `${result.found} discrepancies without any fault injected (${codes})` };
}

/** Two passes over one run as one result: what either found and healed, what the last left. */
export function mergeReconciliations(earlier: DevReconciliation | undefined, later: DevReconciliation): DevReconciliation {
  if (!earlier) return later;
  const byCode = { ...earlier.byCode };
  for (const [code, n] of Object.entries(later.byCode)) byCode[code] = (byCode[code] ?? 0) + n;
  return {
    found: earlier.found + later.found,
    healed: earlier.healed + later.healed,
    remaining: later.remaining,
    byCode,
    stripeRequests: earlier.stripeRequests + later.stripeRequests,
  };
}
