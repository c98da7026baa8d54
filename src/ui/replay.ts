import chalk from 'chalk';
import type { DlqReplayReport } from '../ops/replay/dlq.js';
import type { OutboxReplayReport } from '../ops/replay/outbox.js';
import type { StripeEventsReplayReport } from '../ops/replay/stripe-events.js';
import type { ReplayDetail, ReplayRun } from '../ops/replay/store.js';
import { mark } from './output.js';

/** What `paymentsctl replay` shows: the plan by original topic × error kind × reason, progress, and the runs recorded. */

const BAR_WIDTH = 24;

export function renderReplayProgress(progress: { done: number; total: number }): string {
  const filled = Math.round((progress.done / Math.max(1, progress.total)) * BAR_WIDTH);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ${progress.done}/${progress.total} sent`;
}

/**
 * Progress on stderr: redrawn in place on a terminal, else a line at most every `everyMs` and the
 * final count at the end (so a log never ends on a stale "1/62").
 */
export function replayProgressReporter(
  write: (text: string) => void,
  tty: boolean,
  everyMs = 5_000,
): { update: (p: { done: number; total: number }) => void; done: () => void } {
  let last = 0;
  let drawn = false;
  let latest: { done: number; total: number } | undefined;
  let written: { done: number; total: number } | undefined;
  return {
    update: (progress) => {
      latest = { ...progress };
      const now = Date.now();
      if (tty) {
        if (now - last < 100 && progress.done < progress.total) return;
        last = now;
        drawn = true;
        write(`\r\x1b[2K${renderReplayProgress(progress)}`);
      } else if (now - last >= everyMs) {
        last = now;
        written = latest;
        write(`${renderReplayProgress(progress)}\n`);
      }
    },
    done: () => {
      if (drawn) write('\r\x1b[2K');
      else if (written && latest && latest.done !== written.done) write(`${renderReplayProgress(latest)}\n`);
    },
  };
}

const short = (text: string, width = 100) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

export function renderDlqReport(report: DlqReplayReport): string {
  const lines: string[] = [];
  const where = report.destination ? `to ${report.destination}` : 'each to its own topic';
  const title = report.mode === 'plan' ? 'replay dlq (dry run)' : `replay dlq · run ${report.replayId ?? '-'}`;
  lines.push(`${chalk.bold(title)} · ${report.topics.length ? report.topics.join(', ') : 'no dead-letter topic'} → ${where}`);
  lines.push(
    `  ${report.read} dead letters read · ${report.selected} selected · ${report.alreadyReplayed} replayed before · ` +
      `${report.toReplay} to replay`,
  );
  if (report.groups.length) {
    lines.push('');
    for (const group of report.groups) {
      const before = group.alreadyReplayed ? chalk.dim(` (${group.alreadyReplayed} replayed before)`) : '';
      lines.push(
        `  ${chalk.cyan(group.originalTopic)} · ${group.errorKind} · ${group.reason}: ${chalk.bold(String(group.count))}${before}`,
      );
      const s = group.sample;
      lines.push(
        chalk.dim(
          `    e.g. ${s.dlq}/${s.partition}@${s.offset} key=${JSON.stringify(s.key ?? null)} ce_id=${s.eventId ?? '-'}` +
            `${s.error ? ` — ${short(s.error)}` : ''}`,
        ),
      );
    }
  }
  lines.push('');
  if (report.mode === 'plan') {
    lines.push(
      report.toReplay
        ? `${mark.pending()} dry run: nothing sent; add --execute to replay ${report.toReplay} message${report.toReplay === 1 ? '' : 's'}` +
            (report.alreadyReplayed && report.toReplay < report.selected ? ' (--again for those replayed before)' : '')
        : `${mark.ok()} nothing to replay${report.alreadyReplayed ? ' (all replayed before; --again sends them again)' : ''}`,
    );
  } else {
    lines.push(
      `${report.failed.length ? mark.fail() : mark.ok()} ${report.replayed} replayed · ${report.skipped} skipped · ${report.failed.length} failed`,
    );
    if (report.interrupted)
      lines.push(
        `${mark.pending()} interrupted: ${report.toReplay - report.replayed - report.failed.length} not sent; run the same command again to go on`,
      );
    for (const failure of report.failed) {
      lines.push(
        `  ${mark.fail()} ${failure.dlq}/${failure.partition}@${failure.offset} key=${JSON.stringify(failure.key ?? null)} → ${failure.destination}: ${short(failure.error)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const statusMark = (run: ReplayRun) =>
  run.status === 'completed' ? mark.ok() : run.status === 'running' || run.status === 'interrupted' ? mark.pending() : mark.fail();

export function renderReplayList(runs: ReplayRun[]): string {
  if (!runs.length) return 'no replay has been run (replay … --execute records one)\n';
  const lines = runs.map(
    (run) =>
      `${statusMark(run)} ${chalk.bold(run.id.padStart(5))}  ${run.startedAt}  ${run.source.padEnd(13)} ${run.status.padEnd(11)} ` +
      `${run.replayed}/${run.selected} replayed, ${run.skipped} skipped, ${run.failed} failed  ${chalk.dim(`${run.osUser}@${run.host}`)}`,
  );
  return `${lines.join('\n')}\n`;
}

export function renderReplayShow(found: ReplayDetail): string {
  const { run, messages } = found;
  const lines = [
    `${statusMark(run)} ${chalk.bold(`replay ${run.id}`)} · ${run.source} · ${run.status}`,
    `  by ${run.osUser}@${run.host} · started ${run.startedAt}${run.finishedAt ? ` · finished ${run.finishedAt}` : ''}`,
    `  ${run.selected} selected · ${run.replayed} replayed · ${run.skipped} skipped · ${run.failed} failed`,
    `  selection ${JSON.stringify(run.selection)}`,
  ];
  if (found.stripeEvents?.length) lines.push('');
  for (const e of found.stripeEvents ?? [])
    lines.push(
      `  ${e.outcome === 'failed' ? mark.fail() : mark.ok()} ${e.created} ${e.type} ${e.eventId} · ${e.action} → ${e.outcome}` +
        `${e.error ? ` ${chalk.red(short(e.error))}` : ''}`,
    );
  if (messages.length) lines.push('');
  for (const m of messages) {
    const to = m.destinationOffset !== null ? `${m.destinationTopic}/${m.destinationPartition}@${m.destinationOffset}` : m.destinationTopic;
    lines.push(
      `  ${m.status === 'sent' ? mark.ok() : m.status === 'sending' ? mark.pending() : mark.fail()} ${m.sourceTopic}/${m.sourcePartition}@${m.sourceOffset} → ${to}` +
        `${m.eventId ? chalk.dim(` ce_id=${m.eventId}`) : ''}${m.error ? ` ${chalk.red(short(m.error))}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function renderOutboxReport(report: OutboxReplayReport): string {
  const verb = report.action;
  const what = report.action === 'republish' ? 'published, to send again' : 'set aside';
  const lines = [
    `${chalk.bold(report.mode === 'plan' ? 'replay outbox (dry run)' : `replay outbox · run ${report.replayId ?? '-'}`)} · ` +
      `${report.rows.length} row${report.rows.length === 1 ? '' : 's'} ${what}`,
  ];
  for (const row of report.rows)
    lines.push(
      `  #${row.id} ${chalk.cyan(row.topic)} key=${JSON.stringify(row.key)} ${row.type} ${chalk.dim(row.eventId)} ` +
        `attempts ${row.attempts} · ${row.createdAt}` +
        (row.error ? `\n    ${chalk.red(short(row.error, 200))}` : row.publishedAt ? chalk.dim(` · published ${row.publishedAt}`) : ''),
    );
  lines.push('');
  if (!report.rows.length) lines.push(`${mark.ok()} nothing ${what}`);
  else if (report.mode === 'plan') lines.push(`${mark.pending()} dry run: nothing changed; add --execute to ${verb} them`);
  else
    lines.push(
      `${mark.ok()} ${report.done} ${verb === 'reset' ? 'reset (the publisher sends them again)' : 'discarded (kept in outbox_discarded)'}`,
    );
  return `${lines.join('\n')}\n`;
}

export function renderStripeEventsReport(report: StripeEventsReplayReport): string {
  const verb = report.action === 'resend' ? 'resend' : 'feed';
  const candidates = report.events.filter((e) => e.disposition === 'candidate');
  const head = report.mode === 'plan' ? `replay stripe-events (dry run, ${verb})` : `replay stripe-events · run ${report.replayId ?? '-'}`;
  const lines = [
    `${chalk.bold(head)} · ${report.since} → ${report.until} · ${report.listed}` +
      (report.webhookEndpoint ? ` · endpoint ${report.webhookEndpoint}` : ''),
  ];
  for (const e of report.events) {
    const state =
      e.disposition === 'already_received'
        ? chalk.dim('already received (skipped)')
        : e.disposition === 'ignored'
          ? chalk.dim('ignored (a type the receiver does not act on)')
          : e.outcome === 'failed'
            ? chalk.red(`failed: ${short(e.error ?? '', 200)}`)
            : e.outcome
              ? chalk.green(e.outcome)
              : chalk.yellow(`to ${verb}`);
    lines.push(`  ${e.created} ${chalk.cyan(e.type)} ${e.id} · ${state}`);
  }
  lines.push('');
  if (!candidates.length) lines.push(`${mark.ok()} nothing to ${verb}: every event listed reached the receiver or is ignored`);
  else if (report.mode === 'plan') lines.push(`${mark.pending()} dry run: nothing changed; add --execute to ${verb} ${candidates.length}`);
  else {
    lines.push(`${mark.ok()} ${report.replayed} ${report.action === 'resend' ? 'resent' : 'fed through the receiver'}`);
    if (report.failed) lines.push(`${mark.fail()} ${report.failed} could not be replayed (listed above)`);
    const untouched = candidates.filter((e) => e.outcome === undefined).length;
    if (report.interrupted)
      lines.push(
        `${mark.pending()} interrupted: ${untouched} not ${verb === 'feed' ? 'fed' : 'resent'}; run the same command again to go on`,
      );
  }
  return `${lines.join('\n')}\n`;
}
