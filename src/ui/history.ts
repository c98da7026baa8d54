import chalk from 'chalk';
import type { HistoryItem, HistoryPage } from '../payments/history.js';

const KIND_LABEL: Record<HistoryItem['kind'], string> = { charge: 'charge', refund: 'refund', failed: 'failed' };

function money(item: HistoryItem): string {
  const sign = item.kind === 'refund' ? '+' : item.kind === 'charge' ? '-' : ' ';
  return `${sign}${item.amount} ${item.currency.toUpperCase()}`;
}

function stripeIds(item: HistoryItem): string {
  return [item.stripe_payment_intent_id, item.stripe_charge_id, item.stripe_refund_id, item.stripe_checkout_session_id]
    .filter(Boolean)
    .join(' ');
}

/** One line per entry, newest first: when, what, how much (refunds back to the user), which order or trip, Stripe ids. */
export function renderHistory(page: HistoryPage): string {
  if (page.transactions.length === 0) return `no transactions for ${page.user_id}\n`;
  const rows = page.transactions.map((item) => [
    item.occurred_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    KIND_LABEL[item.kind],
    money(item),
    item.aggregate_id,
    item.kind === 'failed' ? `${item.failure_reason ?? ''} ${stripeIds(item)}`.trim() : stripeIds(item),
  ]);
  const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => {
    const [when, kind, amount, aggregate, ids] = row.map((cell, column) => (column < 4 ? cell.padEnd(widths[column]!) : cell));
    const paint = row[1] === 'failed' ? chalk.red : row[1] === 'refund' ? chalk.green : (text: string) => text;
    return `${chalk.dim(when!)}  ${paint(kind!)}  ${amount}  ${aggregate}  ${chalk.dim(ids!)}`;
  });
  const footer = page.next_before
    ? chalk.dim(`older entries: paymentsctl history --user ${page.user_id} --before ${page.next_before}`)
    : chalk.dim('no older entries');
  return `${chalk.bold(`transactions of ${page.user_id}`)}\n${lines.join('\n')}\n${footer}\n`;
}
