import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addStoreOptions, type StoreFlags } from '../options.js';

interface ReconcileFlags extends StoreFlags {
  since?: string;
  until?: string;
  all?: boolean;
  fix?: boolean;
  execute?: boolean;
  refundDuplicates?: boolean;
  details?: boolean;
  report?: string;
  rate: string;
  pageSize: string;
  staleAfter: string;
  restart?: boolean;
}

const HELP_AFTER = `
Discrepancy codes (each with a count and its rows):
  missing_local_success        Stripe took the money; the row says pending, failed or there is none (a lost webhook)
  local_success_not_at_stripe  the row says succeeded (or refunded); Stripe says otherwise or has nothing
  amount_mismatch, currency_mismatch
  refund_missing_local         refunded in full at Stripe, not in the row
  refund_missing_at_stripe     the row says refunded; Stripe still holds the money
  double_charge                more than one PaymentIntent (or paid session) took money for one order or trip
  stale_pending                pending here longer than --stale-after while Stripe is final
  orphan_at_stripe             a Stripe object with our metadata (order_id / trip_id) and no row here

--fix repairs what a lost webhook would have done: missing_local_success, stale_pending and
refund_missing_local move the row and write payments.completed / payments.failed / payments.refunded
to the outbox in one transaction (never backwards; a second run does nothing). double_charge is
refunded only with --refund-duplicates (idempotency key re:dup:<payment_intent>). Everything else is
reported for a person. Without --execute, --fix only prints the plan.

Stripe is read with its list APIs by created time (not Search), every page under the --rate cap,
backing off on 429. The window is walked one UTC day at a time; a run that is stopped resumes at
the next day when started again with the same window (--restart starts over).

Exit codes: 0 the books agree (after --fix --execute: everything was repaired) · 1 discrepancies remain ·
2 usage or configuration · 3 PostgreSQL or Stripe unreachable

Examples:
  paymentsctl reconcile                                   # the last 24 hours, report only
  paymentsctl reconcile --since 2026-01-01 --until 2026-02-01 --report january.csv
  paymentsctl reconcile --fix                             # what would be repaired
  paymentsctl reconcile --fix --execute --json            # as the CronJob runs it
  paymentsctl reconcile --all --fix --execute --refund-duplicates`;

export function reconcileCommand(ctx: () => CliContext): Command {
  const command = new Command('reconcile')
    .summary('compare the payments table with Stripe for a time window; --fix repairs through the outbox')
    .description(
      "Compare the payments table with Stripe's PaymentIntents, Checkout Sessions, Refunds and Charges\n" +
        'created in a window (matched by metadata order_id / trip_id), report every discrepancy by category,\n' +
        'and with --fix --execute repair what a lost webhook would have recorded, through the outbox.',
    )
    .option('--since <time>', 'start of the created-time window: ISO date/time or a span before now (24h, 7d)', '24h')
    .option('--until <time>', 'end of the window: ISO date/time or a span before now (default: now)')
    .option('--all', 'from the oldest payments row to --until')
    .option('--fix', 'plan the repairs (dry run unless --execute)')
    .option('--execute', 'with --fix: make the repairs')
    .option('--refund-duplicates', 'with --fix --execute: refund duplicate charges (never done otherwise)')
    .option('--details', 'list every discrepancy, not only the counts')
    .option('--report <file>', 'write every discrepancy to FILE: .csv, or .jsonl for JSON lines')
    .option('--rate <n>', 'Stripe requests per second at most (test mode allows 25)', '20')
    .option('--page-size <n>', 'objects per list page (1-100)', '100')
    .option('--stale-after <duration>', 'a pending row older than this while Stripe is final is stale_pending', '15m')
    .option('--restart', 'start the window over instead of resuming an unfinished run of it');
  addStoreOptions(command, ['databaseUrl']);
  return command.addHelpText('after', HELP_AFTER).action(async (flags: ReconcileFlags) => {
    const c = ctx();
    const { databaseUrl, durationMs, positiveInt, stripeApiBase, stripeApiKey } = await import('../../config.js');
    const { UsageError } = await import('../../errors.js');
    const { runReconcile } = await import('../../ops/reconcile/reconcile.js');
    const { reportFormatOf, writeReportFile } = await import('../../ops/reconcile/report-file.js');
    const { renderJson } = await import('../../ui/output.js');
    const { renderReconcileReport, progressReporter } = await import('../../ui/reconcile.js');
    const { interruptible } = await import('../interrupt.js');
    if (flags.execute && !flags.fix) throw new UsageError('--execute needs --fix (reconcile only repairs what --fix plans)');
    if (flags.refundDuplicates && !(flags.fix && flags.execute)) throw new UsageError('--refund-duplicates needs --fix --execute');
    if (flags.report) reportFormatOf(flags.report);
    const rate = positiveInt(flags.rate, '--rate', { min: 1, max: 100 });
    const pageSize = positiveInt(flags.pageSize, '--page-size', { min: 1, max: 100 });
    const staleAfterMs = durationMs(flags.staleAfter, '--stale-after');
    const stripe = { apiKey: stripeApiKey(flags), apiBase: stripeApiBase(flags) };
    const progress = progressReporter(c.stderr, !c.json && Boolean(process.stderr.isTTY));
    const report = await interruptible((signal) =>
      runReconcile({
        databaseUrl: databaseUrl(flags),
        stripe,
        window: { since: flags.all ? undefined : flags.since, until: flags.until, all: Boolean(flags.all) },
        fix: Boolean(flags.fix),
        execute: Boolean(flags.execute),
        refundDuplicates: Boolean(flags.refundDuplicates),
        ratePerSecond: rate,
        pageSize,
        staleAfterMs,
        restart: Boolean(flags.restart),
        log: c.log,
        signal,
        onProgress: progress.update,
      }),
    ).finally(progress.done);
    if (flags.report) await writeReportFile(flags.report, report);
    c.stdout(c.json ? renderJson(report) : renderReconcileReport(report, { details: Boolean(flags.details) }));
    c.exitCode = report.exitCode;
  });
}
