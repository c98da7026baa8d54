import chalk from 'chalk';
import type { ApplyEvent, ApplyReport, ObjectReport, RunningRow } from '../ops/apply/report.js';
import { mark } from './output.js';

/** Left-aligned columns; colour is applied after padding so escapes do not skew the widths. */
function table(
  header: string[],
  rows: string[][],
  colour: (row: number, column: number, text: string) => string = (_r, _c, t) => t,
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], row: number) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .map((cell, i) => (row < 0 ? chalk.dim(cell) : colour(row, i, cell)))
      .join('  ')
      .trimEnd();
  return [line(header, -1), ...rows.map((r, i) => line(r, i))];
}

const PLAN_COLOUR: Record<string, (text: string) => string> = {
  create: chalk.green,
  configure: chalk.yellow,
  're-run': chalk.yellow,
  skip: chalk.dim,
  fail: chalk.red,
  created: chalk.green,
  configured: chalk.yellow,
  failed: chalk.red,
  skipped: chalk.dim,
  'not applied': chalk.dim,
};

function clusterLine(report: ApplyReport): string {
  const { cluster } = report;
  if (cluster.state === 'none') return `cluster: none — ${cluster.reason}; validated offline only`;
  if (cluster.state === 'unreachable')
    return chalk.yellow(`cluster: ${cluster.context} (${cluster.server}) unreachable — ${cluster.reason}; validated offline only`);
  return `cluster: ${cluster.context} (${cluster.server})`;
}

function validationSummary(objects: ObjectReport[]): string[] {
  const invalid = objects.filter((o) => !o.validation.ok);
  const by = (schema: string) => objects.filter((o) => o.validation.schema === schema).length;
  const against = [
    by('kubernetes') && `${by('kubernetes')} against the Kubernetes schemas`,
    by('istio') && `${by('istio')} against Istio's`,
    by('crd') && `${by('crd')} against a CRD schema`,
    by('none') && `${by('none')} with no schema to check (the server-side dry run checks them)`,
  ].filter(Boolean);
  const lines = invalid.flatMap((o) =>
    o.validation.problems.map(
      (p) =>
        `${mark.fail()} ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}${o.file ? ` (${o.file})` : ''}: ${chalk.bold(p.field)} ${p.message}`,
    ),
  );
  lines.push(
    invalid.length
      ? chalk.red(`validation: ${invalid.length} of ${objects.length} objects invalid — nothing was sent to the cluster`)
      : `validation: ${mark.ok()} all ${objects.length} objects valid (${against.join(', ')})`,
  );
  return lines;
}

/** The dry run's plan, or the closing summary of an --execute run (its steps were streamed as events). */
export function renderApplyReport(report: ApplyReport): string {
  const lines: string[] = [];
  if (!report.execute || report.outcome === 'invalid') {
    lines.push(
      chalk.bold(`paymentsctl apply ${report.target}`) + chalk.dim(report.execute ? '' : ' — dry run: nothing changes; --execute applies'),
      `rendered with ${report.renderer}: ${report.objects.length} objects, applied in this order`,
      clusterLine(report),
      '',
    );
    const rows = report.objects.map((o, i) => [
      String(i + 1),
      o.step,
      `${o.kind}/${o.name}`,
      o.namespace ?? '-',
      o.file ?? '-',
      o.validation.ok ? 'ok' : 'INVALID',
      o.plan,
      o.note ?? '',
    ]);
    lines.push(
      ...table(['#', 'STEP', 'OBJECT', 'NAMESPACE', 'FILE', 'VALID', 'PLAN', ''], rows, (r, c, text) =>
        c === 5
          ? report.objects[r]!.validation.ok
            ? chalk.green(text)
            : chalk.red(text)
          : c === 6
            ? (PLAN_COLOUR[text.trim()] ?? ((t: string) => t))(text)
            : text,
      ),
      '',
      ...validationSummary(report.objects),
    );
    for (const o of report.objects.filter((o) => o.diff))
      lines.push('', chalk.bold(`diff ${o.kind}/${o.name}:`), ...o.diff!.split('\n').map(colourDiffLine));
  } else {
    lines.push('', clusterLine(report));
  }
  for (const p of report.prune)
    lines.push(
      `${p.result === 'failed' ? mark.fail() : mark.pending()} prune: ${p.result} ${p.object}${p.namespace ? ` in ${p.namespace}` : ''}${p.note ? ` — ${p.note}` : ''}`,
    );
  if (report.running.length) lines.push('', ...renderRunning(report.running));
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}

function colourDiffLine(line: string): string {
  if (line.startsWith('+') && !line.startsWith('+++')) return chalk.green(line);
  if (line.startsWith('-') && !line.startsWith('---')) return chalk.red(line);
  return chalk.dim(line);
}

function renderRunning(rows: RunningRow[]): string[] {
  const lines: string[] = [];
  for (const kind of [...new Set(rows.map((r) => r.kind))]) {
    const ofKind = rows.filter((r) => r.kind === kind);
    const headers = ofKind[0]!.columns.map(([h]) => h);
    lines.push(
      ...table(
        ['NAME', 'NAMESPACE', ...headers],
        ofKind.map((r) => [`${kind.toLowerCase()}/${r.name}`, r.namespace ?? '-', ...r.columns.map(([, v]) => v)]),
      ),
      '',
    );
  }
  return lines.slice(0, -1);
}

function summaryLine(report: ApplyReport): string {
  const count = (key: 'plan' | 'result') => {
    const tally = new Map<string, number>();
    for (const o of report.objects) {
      const value = o[key];
      if (value) tally.set(value, (tally.get(value) ?? 0) + 1);
    }
    return [...tally].map(([k, n]) => `${n} ${k}`).join(', ');
  };
  if (report.outcome === 'invalid') return chalk.red('invalid manifests: fix the fields named above (exit 2)');
  const failedWaits = report.waits.filter((w) => !w.ok).length;
  const tail = failedWaits ? `; ${failedWaits} did not finish` : '';
  const verdict = report.outcome === 'ok' ? mark.ok() : mark.fail();
  return report.execute ? `${verdict} ${count('result')}${tail}` : `${verdict} plan: ${count('plan')}`;
}

/** One line per event of an --execute run, as it happens. */
export function renderApplyEvent(event: ApplyEvent): string {
  switch (event.type) {
    case 'step':
      return `${chalk.bold(`── ${event.title}`)}\n`;
    case 'object': {
      const o = event.object;
      const result = o.result ?? '';
      return `  ${(PLAN_COLOUR[result] ?? ((t: string) => t))(result.padEnd(11))} ${o.kind}/${o.name}${o.note ? chalk.dim(`  ${o.note}`) : ''}\n`;
    }
    case 'progress':
      return chalk.dim(`  … ${event.message}\n`);
    case 'waited': {
      const w = event.wait;
      const detail = w.detail
        ? `\n${w.detail
            .split('\n')
            .map((l) => `      ${l}`)
            .join('\n')}`
        : '';
      return `  ${w.ok ? mark.ok() : mark.fail()} ${w.message}${detail}\n`;
    }
    case 'pruned':
      return `  ${event.prune.result.padEnd(11)} ${event.prune.object}${event.prune.note ? chalk.dim(`  ${event.prune.note}`) : ''}\n`;
  }
}
