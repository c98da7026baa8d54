import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { OperationError, UsageError } from '../../errors.js';
import type { ReconcileReport } from './reconcile.js';

/**
 * `--report FILE` for finance: one line per discrepancy, as CSV (.csv) or JSON lines (.jsonl,
 * .ndjson). Amounts stay in minor units, as everywhere inside the pipeline.
 */

export type ReportFormat = 'csv' | 'jsonl';

export function reportFormatOf(path: string): ReportFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new UsageError(`--report ${path}: the file name must end in .csv or .jsonl (JSON lines)`);
}

export const CSV_COLUMNS = [
  'code',
  'aggregate_id',
  'local_status',
  'local_amount',
  'local_currency',
  'local_payment_intent',
  'stripe_object',
  'stripe_status',
  'stripe_amount',
  'stripe_currency',
  'stripe_amount_refunded',
  'fix',
  'repair',
  'detail',
] as const;

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

type Item = ReconcileReport['discrepancies'][number];

function fixOf(item: Item): string {
  if (item.fix.action === 'record_outcome') return `record ${item.fix.next}`;
  if (item.fix.action === 'refund_duplicates') return `refund ${item.fix.refund.join(' ')}`;
  return 'none';
}

export function reportLines(report: ReconcileReport, format: ReportFormat): string {
  if (format === 'jsonl') return report.discrepancies.map((item) => `${JSON.stringify(item)}\n`).join('');
  const rows = report.discrepancies.map((item) =>
    [
      item.code,
      item.aggregateId,
      item.local?.status,
      item.local?.amount,
      item.local?.currency,
      item.local?.paymentIntentId,
      item.stripe?.object,
      item.stripe?.status,
      item.stripe?.amount,
      item.stripe?.currency,
      item.stripe?.amountRefunded,
      fixOf(item),
      item.repair?.result,
      item.detail,
    ]
      .map(csvField)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\n') + '\n';
}

export async function writeReportFile(path: string, report: ReconcileReport): Promise<void> {
  try {
    await writeFile(path, reportLines(report, reportFormatOf(path)), 'utf8');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new OperationError(`could not write --report ${path}: ${(error as Error).message}`, { cause: error });
  }
}
