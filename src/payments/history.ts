import { connectClient } from '../db/connect.js';
import { OperationError, UsageError } from '../errors.js';
import { toMajorUnits } from './money.js';
import type { Db } from './store.js';
import type { TransactionKind } from './transactions.js';

/** One entry of a user's history as a gateway, the CLI's --json and scripts receive it. */
export interface HistoryItem {
  id: string;
  kind: TransactionKind;
  /** the order or trip */
  aggregate_id: string;
  /** integer minor units (1999) */
  amount_minor: number;
  /** major units, as the rider's browser shows it (19.99) */
  amount: number;
  currency: string;
  stripe_payment_intent_id: string | null;
  stripe_charge_id: string | null;
  stripe_refund_id: string | null;
  stripe_checkout_session_id: string | null;
  failure_reason: string | null;
  occurred_at: string;
}

export interface HistoryPage {
  user_id: string;
  /** newest first */
  transactions: HistoryItem[];
  /** pass as `before` for the next (older) page; null when this page is the last */
  next_before: string | null;
}

export interface HistoryQuery {
  /** entries per page, 1..MAX_HISTORY_LIMIT; default DEFAULT_HISTORY_LIMIT */
  limit?: number;
  /** a `next_before` from an earlier page: entries older than its last one */
  before?: string;
}

export const DEFAULT_HISTORY_LIMIT = 50;
export const MAX_HISTORY_LIMIT = 200;

interface Position {
  occurredAt: string;
  id: string;
}

/** The cursor is opaque to callers: the (occurred_at, id) of the page's last entry. */
function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.occurredAt, position.id]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Position {
  try {
    const [occurredAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof occurredAt === 'string' && !Number.isNaN(Date.parse(occurredAt)) && typeof id === 'string' && /^\d{1,19}$/.test(id)) {
      return { occurredAt, id };
    }
  } catch {
    // reported below
  }
  throw new UsageError(`"${cursor}" is not a history cursor`, { hint: 'pass the next_before value of an earlier page, unchanged' });
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_HISTORY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
    throw new UsageError(`limit must be a whole number from 1 to ${MAX_HISTORY_LIMIT}, got ${limit}`);
  }
  return limit;
}

interface Row {
  id: string;
  kind: TransactionKind;
  aggregate_id: string;
  amount: string;
  currency: string;
  stripe_payment_intent_id: string | null;
  stripe_charge_id: string | null;
  stripe_refund_id: string | null;
  stripe_checkout_session_id: string | null;
  failure_reason: string | null;
  occurred_at: Date;
}

/**
 * A user's transactions, newest first, a page at a time: `next_before` of one page fetches the
 * next. Paging by position, not offset, so entries appended meanwhile never shift a page.
 */
export async function transactionHistory(db: Db, userId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
  const limit = checkLimit(query.limit);
  const before = query.before === undefined ? undefined : decodeCursor(query.before);
  // One row more than asked says whether there is a next page.
  const { rows } = await db.query<Row>(
    // Ordered by the table's bigint id, not the text one selected (ORDER BY would take the output column).
    `SELECT t.id::text AS id, kind, aggregate_id, amount::text, currency, stripe_payment_intent_id, stripe_charge_id, stripe_refund_id,
       stripe_checkout_session_id, failure_reason, occurred_at
     FROM transactions AS t
     WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (t.occurred_at, t.id) < ($2::timestamptz, $3::bigint))
     ORDER BY t.occurred_at DESC, t.id DESC
     LIMIT $4`,
    [userId, before?.occurredAt ?? null, before?.id ?? null, limit + 1],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    user_id: userId,
    transactions: page.map(toItem),
    next_before: rows.length > limit && last ? encodeCursor({ occurredAt: last.occurred_at.toISOString(), id: last.id }) : null,
  };
}

function toItem(row: Row): HistoryItem {
  const amount = Number(row.amount);
  return {
    id: row.id,
    kind: row.kind,
    aggregate_id: row.aggregate_id,
    amount_minor: amount,
    amount: toMajorUnits(amount, row.currency),
    currency: row.currency,
    stripe_payment_intent_id: row.stripe_payment_intent_id,
    stripe_charge_id: row.stripe_charge_id,
    stripe_refund_id: row.stripe_refund_id,
    stripe_checkout_session_id: row.stripe_checkout_session_id,
    failure_reason: row.failure_reason,
    occurred_at: row.occurred_at.toISOString(),
  };
}

/** A query on a database whose migrations have not made the transactions table yet says what to run. */
export function missingTableError(error: unknown): OperationError | undefined {
  if ((error as { code?: unknown } | null)?.code !== '42P01') return undefined;
  return new OperationError('this database has no transactions table', { hint: 'run: paymentsctl migrate', cause: error });
}

/** `paymentsctl history`: one page of a user's history, on a connection of its own. */
export async function readTransactionHistory(options: { databaseUrl: string; userId: string } & HistoryQuery): Promise<HistoryPage> {
  const client = await connectClient(options.databaseUrl, { applicationName: 'paymentsctl history' });
  try {
    return await transactionHistory(client, options.userId, options);
  } catch (error) {
    throw missingTableError(error) ?? error;
  } finally {
    await client.end().catch(() => undefined);
  }
}
