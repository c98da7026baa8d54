import { describe, expect, it } from 'vitest';
import { failedChecks, leftovers, runDevCommand, whyItFailed } from '../helpers/dev.js';
import { runCli, runMain } from '../helpers/cli.js';

describe('paymentsctl dev', () => {
  it('runs 300 orders through the whole pipeline and proves the money invariants', async () => {
    const run = await runDevCommand(['--orders', '300', '--seed', '11']);
    const { summary } = run;
    expect(failedChecks(summary), whyItFailed(run, 4000)).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(summary.ok).toBe(true);
    expect(summary.chaos).toBe(false);

    const { orders, outcomes } = summary;
    expect(orders.requested).toBe(300);
    expect(orders.placed).toBe(300);
    expect(orders.direct + orders.checkout).toBe(300);
    // the default mix: about a quarter through Checkout, about a tenth declined
    expect(orders.checkout).toBeGreaterThan(40);
    expect(orders.expectedFailed).toBeGreaterThan(10);
    expect(orders.expectedSucceeded + orders.expectedFailed).toBe(300);

    expect(outcomes.succeeded).toBe(orders.expectedSucceeded);
    expect(outcomes.failed).toBe(orders.expectedFailed);
    expect(outcomes.pending + outcomes.requires_action + outcomes.cancelled + outcomes.refunded).toBe(0);
    expect(summary.missing).toBe(0);
    expect(summary.compensated).toBe(orders.expectedFailed);

    expect(summary.emulator.ordersCharged).toBe(outcomes.succeeded);
    expect(summary.emulator.successfulCharges).toBe(outcomes.succeeded);
    expect(summary.emulator.doubleCharged).toEqual([]);
    expect(summary.outboxBacklog).toBe(0);
    expect(summary.consumerLag).toBe(0);
    expect(summary.deadLetters).toBe(0);
    expect(summary.kills.total).toBe(0);
    expect(summary.checks.length).toBeGreaterThanOrEqual(10);
    // without faults, reconciliation with Stripe finds nothing to heal
    expect(summary.reconciliation).toMatchObject({ found: 0, healed: 0, remaining: 0 });

    // progress lines go to stderr with --json, so stdout holds the one JSON document
    expect(run.stderr).toMatch(/settled 300\/300 \(100%\)/);
    // a passing run removes its database and topics
    expect(summary.where.kept).toBe(false);
    expect(await leftovers(summary)).toEqual({ database: false, topics: [] });
  });

  it('refuses a live Stripe key before it starts anything', async () => {
    const result = await runCli(['dev', '--orders', '10'], {
      STRIPE_API_KEY: 'sk_live_abcdefghijklmnopqrstuvwxyz',
      PAYMENTSCTL_STATE_DIR: '/nonexistent-state-dir',
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('must never run with a live Stripe key');
    expect(result.stderr).not.toContain('abcdefghijklmnopqrstuvwxyz');
  });

  it('names a bad flag', async () => {
    const result = await runMain(['dev', '--decline-rate', '1.5']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--decline-rate must be a number from 0 to 1');
  });
});
