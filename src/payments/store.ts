import type pg from 'pg';
import type { PaymentStatus } from './status.js';

export type PaymentKind = 'payment_intent' | 'checkout_session';

export interface PaymentRow {
  aggregateId: string;
  kind: PaymentKind;
  status: PaymentStatus;
  /** minor units; null only on a cancellation recorded before any charge */
  amount: number | null;
  currency: string | null;
  idempotencyKey: string | null;
  paymentIntentId: string | null;
  checkoutSessionId: string | null;
  refundId: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  metadata: Record<string, string>;
}

/** The fields a write sets; ids left undefined keep what the row has. */
export interface PaymentWrite {
  aggregateId: string;
  kind: PaymentKind;
  status: PaymentStatus;
  amount?: number | null;
  currency?: string | null;
  idempotencyKey?: string | null;
  paymentIntentId?: string;
  checkoutSessionId?: string;
  refundId?: string;
  failureCode?: string | null;
  failureMessage?: string | null;
  metadata?: Record<string, string>;
}

/** Another transaction created the same payments row first; run the whole step again. */
export class ConcurrentPaymentWriteError extends Error {
  constructor(readonly aggregateId: string) {
    super(`payments row ${aggregateId} was created concurrently`);
    this.name = 'ConcurrentPaymentWriteError';
  }
}

export const COLUMNS = `aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id,
  stripe_checkout_session_id, stripe_refund_id, failure_code, failure_message, metadata`;

export interface DbRow {
  aggregate_id: string;
  kind: PaymentKind;
  status: PaymentStatus;
  amount: string | null;
  currency: string | null;
  idempotency_key: string | null;
  stripe_payment_intent_id: string | null;
  stripe_checkout_session_id: string | null;
  stripe_refund_id: string | null;
  failure_code: string | null;
  failure_message: string | null;
  metadata: Record<string, string>;
}

export function fromDb(row: DbRow): PaymentRow {
  return {
    aggregateId: row.aggregate_id,
    kind: row.kind,
    status: row.status,
    amount: row.amount === null ? null : Number(row.amount),
    currency: row.currency,
    idempotencyKey: row.idempotency_key,
    paymentIntentId: row.stripe_payment_intent_id,
    checkoutSessionId: row.stripe_checkout_session_id,
    refundId: row.stripe_refund_id,
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    metadata: row.metadata ?? {},
  };
}

export type Db = Pick<pg.Pool | pg.PoolClient | pg.Client, 'query'>;

/** Payments rows by aggregate id, without locking: a hint read before calling Stripe. */
export async function loadPayments(db: Db, aggregateIds: readonly string[]): Promise<Map<string, PaymentRow>> {
  if (aggregateIds.length === 0) return new Map();
  const { rows } = await db.query<DbRow>(`SELECT ${COLUMNS} FROM payments WHERE aggregate_id = ANY($1::text[])`, [aggregateIds]);
  return new Map(rows.map((row) => [row.aggregate_id, fromDb(row)]));
}

/** The row, locked until the transaction ends, so two writers of one aggregate take turns. */
export async function lockPayment(db: Db, aggregateId: string): Promise<PaymentRow | undefined> {
  const { rows } = await db.query<DbRow>(`SELECT ${COLUMNS} FROM payments WHERE aggregate_id = $1 FOR UPDATE`, [aggregateId]);
  return rows[0] ? fromDb(rows[0]) : undefined;
}

export async function findPaymentByIntent(
  db: Db,
  paymentIntentId: string,
  options: { lock?: boolean } = {},
): Promise<PaymentRow | undefined> {
  const { rows } = await db.query<DbRow>(
    `SELECT ${COLUMNS} FROM payments WHERE stripe_payment_intent_id = $1${options.lock ? ' FOR UPDATE' : ''}`,
    [paymentIntentId],
  );
  return rows[0] ? fromDb(rows[0]) : undefined;
}

/**
 * Creates the row (`existed` false) or updates the one the caller locked. The caller decides the
 * transition (see status.ts); this only writes it. Creating a row someone else created meanwhile
 * throws ConcurrentPaymentWriteError: the caller's transaction must be rolled back and retried.
 */
export async function writePayment(db: Db, write: PaymentWrite, existed: boolean): Promise<void> {
  const values = [
    write.aggregateId,
    write.kind,
    write.status,
    write.amount ?? null,
    write.currency ?? null,
    write.idempotencyKey ?? null,
    write.paymentIntentId ?? null,
    write.checkoutSessionId ?? null,
    write.refundId ?? null,
    write.failureCode ?? null,
    write.failureMessage ?? null,
    JSON.stringify(write.metadata ?? {}),
  ];
  if (!existed) {
    const result = await db.query(
      `INSERT INTO payments (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
       ON CONFLICT (aggregate_id) DO NOTHING`,
      values,
    );
    if (result.rowCount === 0) throw new ConcurrentPaymentWriteError(write.aggregateId);
    return;
  }
  await db.query(
    `UPDATE payments SET
       kind = $2, status = $3,
       amount = COALESCE($4, amount), currency = COALESCE($5, currency), idempotency_key = COALESCE($6, idempotency_key),
       stripe_payment_intent_id = COALESCE($7, stripe_payment_intent_id),
       stripe_checkout_session_id = COALESCE($8, stripe_checkout_session_id),
       stripe_refund_id = COALESCE($9, stripe_refund_id),
       failure_code = $10, failure_message = $11,
       metadata = metadata || $12::jsonb,
       updated_at = now()
     WHERE aggregate_id = $1`,
    values,
  );
}

/** Inbox: which of these message ids this consumer has already applied. */
export async function processedMessageIds(db: Db, consumer: string, messageIds: readonly string[]): Promise<Set<string>> {
  if (messageIds.length === 0) return new Set();
  const { rows } = await db.query<{ message_id: string }>(
    'SELECT message_id FROM processed_messages WHERE consumer = $1 AND message_id = ANY($2::text[])',
    [consumer, messageIds],
  );
  return new Set(rows.map((row) => row.message_id));
}

export type InboxResult<T> = { duplicate: true } | { duplicate: false; value: T };

/** Inbox retention: forgets message ids older than `olderThanMs`, `limit` rows at a time. */
export async function deleteProcessedBefore(db: Db, olderThanMs: number, limit = 10_000): Promise<number> {
  const result = await db.query(
    `DELETE FROM processed_messages WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM processed_messages WHERE processed_at < now() - make_interval(secs => $1::double precision / 1000) LIMIT $2))`,
    [olderThanMs, limit],
  );
  return result.rowCount ?? 0;
}

/** A write applied to a row as `writePayment` applies it: ids and amounts given replace, others stay. */
export function applyWrite(current: PaymentRow | undefined, write: PaymentWrite): PaymentRow {
  return {
    aggregateId: write.aggregateId,
    kind: write.kind,
    status: write.status,
    amount: write.amount ?? current?.amount ?? null,
    currency: write.currency ?? current?.currency ?? null,
    idempotencyKey: write.idempotencyKey ?? current?.idempotencyKey ?? null,
    paymentIntentId: write.paymentIntentId ?? current?.paymentIntentId ?? null,
    checkoutSessionId: write.checkoutSessionId ?? current?.checkoutSessionId ?? null,
    refundId: write.refundId ?? current?.refundId ?? null,
    failureCode: write.failureCode ?? null,
    failureMessage: write.failureMessage ?? null,
    metadata: { ...current?.metadata, ...write.metadata },
  };
}
