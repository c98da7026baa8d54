import chalk from 'chalk';
import type { LagVerdict } from '../ops/status/lag-verdict.js';
import type { StatusReport } from '../ops/status/report.js';
import { mark } from './output.js';

export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

export const VERDICT_COLOR: Record<LagVerdict, (text: string) => string> = {
  OK: chalk.green,
  WARN: chalk.yellow,
  STALL: chalk.red,
  STOP: chalk.red,
};

export function verdictLine(report: StatusReport): string {
  if (report.verdict === 'healthy') return `${mark.ok()} ${chalk.bold.green('healthy')}`;
  if (report.verdict === 'unreachable') return `${mark.fail()} ${chalk.bold.red('unreachable')} ${chalk.dim('(exit 3)')}`;
  return `${mark.fail()} ${chalk.bold.yellow('degraded')} — ${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}`;
}

const heading = (text: string, detail = '') => `\n${chalk.bold(text)}${detail ? ` ${chalk.dim(detail)}` : ''}`;

/** The terminal report: the verdict and findings first, then a section per part of the pipeline. */
export function renderStatus(report: StatusReport): string {
  const lines = [verdictLine(report)];
  for (const u of report.unreachable) lines.push(`  ${mark.fail()} ${u.store}: ${u.error}`);
  for (const f of report.findings) lines.push(`  ${mark.fail()} ${f.message}`);

  if (report.schema) {
    const s = report.schema;
    const pending = s.state === 'behind' || s.state === 'ahead' ? s.pending : [];
    lines.push(heading('schema', report.database ?? ''));
    lines.push(
      `  ${s.state === 'current' ? chalk.green('current') : chalk.red(s.state)}  at ${s.at ?? 'no migrations'}` +
        `${pending.length ? `  pending ${pending.join(', ')}` : ''}` +
        `${s.state === 'ahead' ? `  unknown ${s.unknown.join(', ')}` : ''}${s.state === 'drifted' ? `  changed ${s.drifted.join(', ')}` : ''}`,
    );
  }
  if (report.outbox) {
    lines.push(heading('outbox', report.database ?? ''));
    if (!report.outbox.topics.length) lines.push('  empty');
    for (const t of report.outbox.topics) {
      lines.push(
        `  ${t.topic.padEnd(34)} unpublished ${String(t.unpublished).padStart(6)}  oldest ${formatAge(t.oldestUnpublishedMs).padStart(7)}` +
          `  set aside ${t.setAside}  past retention ${t.pastRetention}`,
      );
    }
    for (const row of report.outbox.setAside)
      lines.push(chalk.red(`    set aside #${row.id} ${row.topic} key ${row.key}: ${row.lastError}`));
  }
  if (report.publisher) {
    const p = report.publisher;
    lines.push(heading('publisher', `${p.instances} instance(s) connected, latest term ${p.latestTerm ?? '—'}`));
    for (const { topic, leader } of p.leaders) {
      lines.push(
        leader
          ? `  ${topic.padEnd(34)} pid ${leader.pid} ${leader.applicationName} ${leader.clientAddress ?? 'local'} since ${leader.connectedSince}`
          : `  ${topic.padEnd(34)} ${chalk.red('no leader')}`,
      );
    }
  }
  if (report.consumers) {
    lines.push(heading('consumers', `verdicts over ${report.window.looks} look(s), ${formatAge(report.window.spanMs)}`));
    for (const g of report.consumers) {
      lines.push(
        `  ${chalk.bold(g.groupId)} ${g.state}, ${g.members.length} member(s), lag ${g.lag}, time lag ${formatAge(g.maxTimeLagMs)} ${VERDICT_COLOR[g.verdict](g.verdict)}`,
      );
      for (const p of g.partitions.filter((p) => p.lag > 0 || p.verdict !== 'OK')) {
        lines.push(
          `    ${`${p.topic}/${p.partition}`.padEnd(40)} committed ${String(p.committed ?? '—').padStart(7)} end ${p.high.padStart(7)} lag ${String(p.lag).padStart(6)}` +
            ` ${formatAge(p.timeLagMs).padStart(7)} ${VERDICT_COLOR[p.verdict](p.verdict)} ${chalk.dim(p.why)}`,
        );
      }
    }
  }
  if (report.retries) {
    const waiting = report.retries.filter((r) => r.waiting > 0);
    lines.push(heading('retries'));
    if (!waiting.length) lines.push('  none waiting');
    for (const r of waiting) lines.push(`  ${r.topic.padEnd(34)} waiting ${r.waiting}  next due ${r.nextDueAt ?? '—'}`);
  }
  if (report.deadLetters) {
    const held = report.deadLetters.filter((d) => d.depth > 0);
    lines.push(heading('dead letters'));
    if (!held.length) lines.push('  all empty');
    for (const d of held) {
      const top = (counts: Record<string, number>) =>
        Object.entries(counts)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([name, n]) => `${name} ×${n}`)
          .join(', ');
      lines.push(
        `  ${d.topic.padEnd(34)} ${chalk.red(String(d.depth))} held${d.replayed ? ` (${d.replayed} replayed)` : ''}, oldest ${formatAge(d.oldestAgeMs)}; kinds ${top(d.errorKinds) || '—'}; reasons ${top(d.reasons) || '—'}`,
      );
    }
  }
  if (report.payments) {
    const counts = Object.entries(report.payments.byStatus)
      .map(([status, n]) => `${status} ${n}`)
      .join('  ');
    lines.push(heading('payments'), `  ${counts}`);
    for (const s of report.payments.stuck) lines.push(chalk.yellow(`    ${s.aggregateId} ${s.status} for ${formatAge(s.ageMs)}`));
  }
  if (report.webhooks) {
    const byType = Object.entries(report.webhooks.lastHourByType)
      .map(([type, n]) => `${type} ×${n}`)
      .join(', ');
    lines.push(
      heading('webhooks'),
      `  last event ${report.webhooks.lastReceivedAgeMs === null ? 'never' : `${formatAge(report.webhooks.lastReceivedAgeMs)} ago`}; last hour: ${byType || 'none'}`,
    );
  }
  const s = report.stripe;
  lines.push(
    heading('stripe'),
    !s.configured
      ? '  not configured (set STRIPE_API_KEY to check it)'
      : s.reachable
        ? `  reachable, ${s.mode} mode`
        : chalk.red(`  unreachable (${s.mode} mode key): ${s.error ?? ''}`),
  );
  return `${lines.join('\n')}\n`;
}
