import chalk from 'chalk';
import type { MigrationReport } from '../migrate/migrator.js';
import { mark } from './output.js';

export function renderMigrationReports(reports: MigrationReport[], mode: 'apply' | 'status' | 'dry-run'): string {
  const lines: string[] = [];
  for (const report of reports) {
    lines.push(`${report.ok ? mark.ok() : mark.fail()} ${chalk.bold(report.database)} ${chalk.dim(report.target)}`);
    if (mode === 'apply') {
      if (report.applied.length) for (const name of report.applied) lines.push(`    applied   ${name}`);
      else if (report.ok) lines.push('    up to date, nothing to apply');
    } else {
      for (const name of report.applied) lines.push(`    applied   ${name}`);
    }
    for (const name of report.pending) lines.push(`    pending   ${name}`);
    if (mode === 'dry-run' && report.sql) {
      for (const [name, sql] of Object.entries(report.sql)) {
        lines.push(chalk.dim(`    -- would run ${name}:`));
        lines.push(
          ...sql
            .trimEnd()
            .split('\n')
            .map((line) => chalk.dim(`    ${line}`)),
        );
      }
    }
    if (report.error) lines.push(`    ${chalk.red('error:')} ${report.error}`);
  }
  const failed = reports.filter((r) => !r.ok).length;
  if (reports.length > 1) lines.push(`${reports.length - failed} of ${reports.length} databases ok${failed ? `, ${failed} failed` : ''}`);
  return `${lines.join('\n')}\n`;
}
