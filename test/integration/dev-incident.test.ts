import { afterAll, describe, expect, it } from 'vitest';
import type { DlqReplayReport } from '../../src/ops/replay/dlq.js';
import type { StripeEventsReplayReport } from '../../src/ops/replay/stripe-events.js';
import type { StatusReport } from '../../src/ops/status/report.js';
import { connectClient } from '../../src/db/connect.js';
import { parseJson, runCli, runMain } from '../helpers/cli.js';
import { failedChecks, startKeptDev, type KeptDevRun } from '../helpers/dev.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The operator's drill: `dev --incident` leaves a running pipeline with payments dead-lettered while
 * Stripe refused them and Checkout outcomes whose webhooks were dropped; the replay commands heal
 * it, `status` then says healthy, and the run itself sees every check hold again.
 */
describe('paymentsctl dev --incident, healed by replay', () => {
  let run: KeptDevRun | undefined;
  afterAll(async () => {
    await run?.remove();
  });

  it('stages the incident, and replay dlq + replay stripe-events heal it', async () => {
    run = await startKeptDev(['--orders', '240', '--rate', '0', '--incident', '--seed', '31']);
    const { summary, variables } = run;
    expect(failedChecks(summary), run.stderr().slice(-4000)).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.reconciliation).toBeUndefined();
    const incident = summary.incident!;
    expect(incident.deadLettered).toHaveLength(3);
    expect(incident.droppedDeliveries).toBeGreaterThan(0);
    expect(incident.healed).toBe(false);
    expect(summary.deadLetters).toBe(3);
    expect(summary.checks.find((c) => c.name === 'the incident is the one staged')?.ok).toBe(true);
    expect(variables).toMatchObject({ KAFKA_TOPIC_PREFIX: summary.where.topicPrefix });
    const cli = (args: string[]) => runCli([...args, '--json'], variables);

    const before = await cli(['status', '--look-interval', '300ms']);
    expect(before.exitCode).toBe(1);
    expect(parseJson<StatusReport>(before.stdout).findings.map((f) => f.kind)).toContain('dead_letters');

    const dlq = await cli(['replay', 'dlq', '--execute']);
    expect(dlq.exitCode, dlq.stderr).toBe(0);
    expect(parseJson<DlqReplayReport>(dlq.stdout)).toMatchObject({ replayed: 3, failed: [] });

    const events = await cli(['replay', 'stripe-events', '--execute']);
    expect(events.exitCode, events.stderr).toBe(0);
    const fed = parseJson<StripeEventsReplayReport>(events.stdout);
    expect(fed).toMatchObject({ action: 'feed', listed: 'delivery_success=false', failed: 0 });
    expect(fed.replayed).toBeGreaterThan(0);
    // A second run finds every missed event recorded and feeds nothing.
    const again = parseJson<StripeEventsReplayReport>((await cli(['replay', 'stripe-events', '--execute'])).stdout);
    expect(again.replayed).toBe(0);

    // The run sees every check hold over every order, the incident's included.
    await waitFor('dev to say the incident is healed', () => /The incident is healed/.test(run!.stderr()), 120_000);
    const db = await connectClient(variables.DATABASE_URL!);
    try {
      const { rows } = await db.query<{ aggregate_id: string; status: string }>(
        'SELECT aggregate_id, status FROM payments WHERE aggregate_id = ANY($1)',
        [[...incident.deadLettered, ...incident.awaitingWebhooks]],
      );
      expect(Object.fromEntries(rows.map((r) => [r.aggregate_id, r.status]))).toEqual(
        Object.fromEntries(
          [...incident.deadLettered, ...incident.awaitingWebhooks].map((id) => [id, expect.stringMatching(/succeeded|failed/)]),
        ),
      );
    } finally {
      await db.end();
    }

    const after = await cli(['status', '--look-interval', '300ms']);
    expect(after.exitCode, after.stdout).toBe(0);
    expect(parseJson<StatusReport>(after.stdout).findings).toEqual([]);

    // Ctrl-C once healed: the run passes.
    expect(await run.stop()).toBe(0);
  });

  it('refuses --incident with --chaos: one heals what it breaks, the other leaves it to you', async () => {
    const result = await runMain(['dev', '--incident', '--chaos']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--incident cannot be combined with --chaos');
  });
});
