import chalk from 'chalk';
import type { TailSummary } from '../ops/tail/tail.js';
import type { Bytes, TailRecord } from '../ops/tail/record.js';

const VALUE_WIDTH = 160;

const bytesText = (bytes: Bytes | null): string => (bytes === null ? '∅' : typeof bytes === 'string' ? bytes : `base64:${bytes.base64}`);

function compactValue(record: TailRecord, width: number | undefined): string {
  let text: string;
  if (record.valueFormat === 'binary') text = `<binary, base64 ${record.dataBase64 ?? ''}>`;
  else if (record.valueFormat === 'null') text = '<null>';
  // Text that is not JSON is quoted, so control characters show escaped and never reach the terminal raw.
  else text = JSON.stringify(record.data);
  return width !== undefined && text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** One line per message: time, topic/partition@offset, key, type, the value compact. */
export function renderTailLine(record: TailRecord, options: { truncate?: boolean } = {}): string {
  const where = `${record.topic}/${record.partition}@${record.offset}`;
  const parts = [
    chalk.dim(record.timestamp),
    chalk.cyan(where),
    `key=${JSON.stringify(bytesText(record.key))}`,
    record.ce?.type ? chalk.bold(record.ce.type) : chalk.dim('(no ce_type)'),
    compactValue(record, options.truncate ? VALUE_WIDTH : undefined),
  ];
  const dl = record.deadLetter;
  if (dl) {
    const origin = dl.originalTopic ? ` from ${dl.originalTopic}/${dl.originalPartition ?? '?'}@${dl.originalOffset ?? '?'}` : '';
    parts.push(
      chalk.red(`dead letter: ${dl.reason ?? '?'} (${dl.errorKind ?? '?'}, ${dl.attempts ?? 0} attempts)${origin}: ${dl.error ?? ''}`),
    );
  }
  if (record.retry) parts.push(chalk.yellow(`retry: attempt ${record.retry.attempts ?? '?'}, due ${record.retry.dueAt ?? '?'}`));
  return `${parts.join(' ')}\n`;
}

/** --json: the record as one line, nothing else on it. */
export const renderTailJsonLine = (record: TailRecord): string => `${JSON.stringify(record)}\n`;

export function renderTailSummary(summary: TailSummary): string {
  const group = summary.groupDeleted ? 'temporary group deleted' : chalk.yellow(`temporary group ${summary.groupId} could not be deleted`);
  return chalk.dim(
    `${summary.shown} shown${summary.skipped ? `, ${summary.skipped} filtered out` : ''} from ${summary.topics.join(', ')}; no offsets committed, ${group}\n`,
  );
}
