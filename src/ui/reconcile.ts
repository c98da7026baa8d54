import chalk from 'chalk';
import { DISCREPANCY_CODES } from '../payments/decisions/reconcile.js';
import type { ReconcileProgress, ReconcileReport } from '../ops/reconcile/reconcile.js';
import { mark } from './output.js';

/** What `paymentsctl reconcile` shows: a progress bar while it walks, then the summary by category and, with --details, the rows. */

const BAR_WIDTH = 24;

export function renderProgressBar(progress: ReconcileProgress): string {
  const done = (progress.day - 1) / Math.max(1, progress.days);
  const filled = Math.round(done * BAR_WIDTH);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
  const { counts } = progress;
  return (
    `${bar} day ${progress.day}/${progress.days} (${progress.dayStart.slice(0, 10)}) · ` +
    `${counts.paymentIntents} PaymentIntents, ${counts.checkoutSessions} sessions, ${counts.refunds} refunds · ${progress.found} discrepancies`
  );
}

/**
 * Writes progress to `write` (stderr): redrawn in place on a terminal, else a line at most every
 * `everyMs` so a CronJob's log stays readable.
 */
export function progressReporter(
  write: (text: string) => void,
  tty: boolean,
  everyMs = 5_000,
): { update: (p: ReconcileProgress) => void; done: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update: (progress) => {
      const now = Date.now();
      if (tty) {
        if (now - last < 100) return;
        last = now;
        drawn = true;
        write(`\r\x1b[2K${renderProgressBar(progress)}`);
      } else if (now - last >= everyMs) {
        last = now;
        write(`${renderProgressBar(progress)}\n`);
      }
    },
    done: () => {
      if (drawn) write('\r\x1b[2K');
    },
  };
}

export function renderReconcileReport(report: ReconcileReport, options: { details: boolean }): string {
  const lines: string[] = [];
  const verb = { check: 'checked', plan: 'checked (fix plan, dry run)', execute: 'checked and repaired' }[report.mode];
  lines.push(
    `${chalk.bold('reconcile')} ${report.window.since} → ${report.window.until} · ${report.window.days} day${report.window.days === 1 ? '' : 's'}` +
      (report.window.resumedDays ? ` (${report.window.resumedDays} resumed)` : '') +
      ` · ${verb}`,
  );
  const s = report.stripe;
  lines.push(
    chalk.dim(
      `  Stripe: ${s.paymentIntents} PaymentIntents, ${s.checkoutSessions} Checkout Sessions, ${s.refunds} refunds, ${s.retrieved} fetched by id · ` +
        `${s.requests} requests, ${s.rateLimited} answered 429 · payments rows: ${report.rows}`,
    ),
  );
  if (report.totals.found === 0) {
    lines.push(`${mark.ok()} the payments table and Stripe agree`);
  } else {
    const width = Math.max(...DISCREPANCY_CODES.map((code) => code.length));
    lines.push('');
    lines.push(`  ${'category'.padEnd(width)}  found  fixed  remaining`);
    for (const code of DISCREPANCY_CODES) {
      const row = report.summary[code];
      if (row.found === 0) continue;
      const sign = row.remaining > 0 ? mark.fail() : mark.ok();
      lines.push(
        `${sign} ${code.padEnd(width)}  ${String(row.found).padStart(5)}  ${String(row.fixed).padStart(5)}  ${String(row.remaining).padStart(9)}`,
      );
    }
    lines.push('');
    lines.push(`  ${report.totals.found} discrepancies · ${report.totals.fixed} repaired · ${report.totals.remaining} remaining`);
  }
  if (options.details && report.discrepancies.length) {
    lines.push('');
    for (const item of report.discrepancies) {
      const fix =
        item.fix.action === 'record_outcome'
          ? `fix: record ${item.fix.next} from ${item.fix.object}`
          : item.fix.action === 'refund_duplicates'
            ? `fix: refund ${item.fix.refund.join(', ')} (keep ${item.fix.keep})`
            : `no automatic fix: ${item.fix.why}`;
      const done = item.repair ? ` → ${item.repair.result}${item.repair.error ? ` (${item.repair.error})` : ''}` : '';
      lines.push(`  ${chalk.bold(item.code)} ${item.aggregateId}: ${item.detail}`);
      lines.push(chalk.dim(`      ${fix}${done}`));
    }
  } else if (report.discrepancies.length) {
    lines.push(chalk.dim('  (--details lists every row; --report FILE writes them as CSV or JSON lines)'));
  }
  for (const note of report.notes) lines.push(`  ${chalk.yellow('note:')} ${note}`);
  return `${lines.join('\n')}\n`;
}
