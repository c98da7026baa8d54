import { describe, expect, it } from 'vitest';
import { failedChecks, runDevCommand, whyItFailed } from '../helpers/dev.js';

describe('paymentsctl dev --chaos', () => {
  it('loses no order and charges none twice while roles are SIGKILLed and Stripe misbehaves', { timeout: 420_000 }, async () => {
    // At 80 orders/s placing alone takes 25 s: time for the chaos to kill every role several times.
    const run = await runDevCommand(['--orders', '2000', '--rate', '80', '--chaos', '--seed', '2024'], { timeoutMs: 400_000 });
    const { summary } = run;
    process.stdout.write(
      `chaos run: ${summary.kills.total} kills (publisher ${summary.kills.publisher}, worker ${summary.kills.worker}, receiver ${summary.kills.receiver}); ` +
        `duplicates absorbed: worker ${summary.duplicatesAbsorbed.worker}, webhook ${summary.duplicatesAbsorbed.webhook}; ` +
        `retries ${summary.retries}; reconcile healed ${summary.reconciliation?.healed}; ${(summary.durationMs / 1000).toFixed(1)} s\n`,
    );
    expect(failedChecks(summary), whyItFailed(run)).toEqual([]);
    expect(run.exitCode).toBe(0);

    expect(summary.kills.total).toBeGreaterThanOrEqual(10);
    for (const role of ['publisher', 'worker', 'receiver'] as const) expect(summary.kills[role], role).toBeGreaterThanOrEqual(2);
    expect(summary.unexpectedExits).toBe(0);

    // zero lost orders
    expect(summary.orders.placed).toBe(2000);
    expect(summary.missing).toBe(0);
    expect(summary.outcomes.succeeded + summary.outcomes.failed).toBe(2000);
    expect(summary.outcomes.succeeded).toBe(summary.orders.expectedSucceeded);
    // zero double charges, and the emulator agrees with the payments table
    expect(summary.emulator.doubleCharged).toEqual([]);
    expect(summary.emulator.successfulCharges).toBe(summary.outcomes.succeeded);
    // every decline compensated
    expect(summary.outcomes.failed).toBe(summary.orders.expectedFailed);
    expect(summary.compensated).toBe(summary.outcomes.failed);
    expect(summary.deadLetters).toBe(0);
    // the chaos did make the pipeline absorb duplicates (redeliveries after kills, duplicate webhooks)
    expect(summary.duplicatesAbsorbed.worker + summary.duplicatesAbsorbed.webhook).toBeGreaterThan(0);
    // webhooks the emulator dropped lost outcomes, and reconciliation healed every one of them
    expect(summary.reconciliation!.healed).toBeGreaterThan(0);
    expect(summary.reconciliation!.remaining).toBe(0);
  });
});
