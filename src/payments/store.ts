import type pg from 'pg';
import { ConcurrentPaymentWriteError, PaymentIdentityConflictError, type PaymentKind, type PaymentRow, type PaymentWrite } from './row.js';
import type { PaymentStatus } from './status.js';

/** The payments rows and the inbox in SQL. What a row becomes is decided elsewhere (decisions/); this reads and writes it. */

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

// No conflict target on purpose: a row another transaction creates at the same moment (the
// receiver recording a webhook before the worker commits) collides on its Stripe ids as well as
// on aggregate_id, and with `ON CONFLICT (aggregate_id)` PostgreSQL then raises a unique
// violation of the other index instead of doing nothing — about one such race in two hundred,
// and the worker took it for bad data and dead-lettered its whole batch.
const INSERT = `
  INSERT INTO payments (aggregate_id, kind, status, amount, currency, idempotency_key, stripe_payment_intent_id,
    stripe_checkout_session_id, stripe_refund_id, failure_code, failure_message, metadata)
  SELECT v.aggregate_id, v.kind, v.status, v.amount, v.currency, v.idempotency_key, v.payment_intent, v.checkout_session,
    v.refund, v.failure_code, v.failure_message, v.metadata::jsonb
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
    AS v(aggregate_id, kind, status, amount, currency, idempotency_key, payment_intent, checkout_session, refund, failure_code, failure_message, metadata)
  ON CONFLICT DO NOTHING
  RETURNING aggregate_id`;

const HOLDERS = `
  SELECT aggregate_id, stripe_payment_intent_id, stripe_checkout_session_id FROM payments
  WHERE aggregate_id = ANY($1::text[]) OR stripe_payment_intent_id = ANY($2::text[]) OR stripe_checkout_session_id = ANY($3::text[])`;

const UPDATE = `
  UPDATE payments AS p SET
    kind = v.kind, status = v.status,
    amount = COALESCE(v.amount, p.amount), currency = COALESCE(v.currency, p.currency), idempotency_key = COALESCE(v.idempotency_key, p.idempotency_key),
    stripe_payment_intent_id = COALESCE(v.payment_intent, p.stripe_payment_intent_id),
    stripe_checkout_session_id = COALESCE(v.checkout_session, p.stripe_checkout_session_id),
    stripe_refund_id = COALESCE(v.refund, p.stripe_refund_id),
    failure_code = v.failure_code, failure_message = v.failure_message,
    metadata = p.metadata || v.metadata::jsonb,
    updated_at = now()
  FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
    AS v(aggregate_id, kind, status, amount, currency, idempotency_key, payment_intent, checkout_session, refund, failure_code, failure_message, metadata)
  WHERE p.aggregate_id = v.aggregate_id`;

function columns(writes: readonly PaymentWrite[]): unknown[] {
  return [
    writes.map((w) => w.aggregateId),
    writes.map((w) => w.kind),
    writes.map((w) => w.status),
    writes.map((w) => w.amount ?? null),
    writes.map((w) => w.currency ?? null),
    writes.map((w) => w.idempotencyKey ?? null),
    writes.map((w) => w.paymentIntentId ?? null),
    writes.map((w) => w.checkoutSessionId ?? null),
    writes.map((w) => w.refundId ?? null),
    writes.map((w) => w.failureCode ?? null),
    writes.map((w) => w.failureMessage ?? null),
    writes.map((w) => JSON.stringify(w.metadata ?? {})),
  ];
}

/**
 * Creates the rows that are new (`existed` false) and updates the ones the caller locked, in at
 * most two statements however many rows: a group commit writes a row per event, and every
 * statement costs the database a reply of its own. An update keeps what a write leaves undefined,
 * overwrites the failure fields and merges metadata (as applyWrite does). Creating a row someone
 * else created meanwhile throws ConcurrentPaymentWriteError naming it: the caller's transaction
 * must be rolled back and retried. Creating a row whose PaymentIntent or Checkout Session another
 * row records throws PaymentIdentityConflictError. Each aggregate at most once per call. The
 * statements are sent before the first await, so a caller batching a pipelined connection's writes
 * into one send gets them in it.
 */
export function writePayments(db: Db, writes: readonly { write: PaymentWrite; existed: boolean }[]): Promise<void> {
  const created = writes.filter((w) => !w.existed).map((w) => w.write);
  const updated = writes.filter((w) => w.existed).map((w) => w.write);
  if (new Set(writes.map((w) => w.write.aggregateId)).size !== writes.length) {
    return Promise.reject(new Error('writePayments: an aggregate appears twice in one call'));
  }
  const inserting = created.length ? db.query<{ aggregate_id: string }>(INSERT, columns(created)) : undefined;
  const updating = updated.length ? db.query(UPDATE, columns(updated)) : undefined;
  return Promise.all([inserting, updating]).then(async ([inserted]) => {
    if (!inserted || inserted.rows.length === created.length) return;
    const done = new Set(inserted.rows.map((row) => row.aggregate_id));
    const skipped = created.filter((w) => !done.has(w.aggregateId));
    await refuseSkippedCreates(db, skipped);
  });
}

/**
 * Why rows were not created, as an error: one of them exists now (another transaction created it:
 * run the step again), or else their Stripe ids are recorded for other orders or trips.
 */
async function refuseSkippedCreates(db: Db, skipped: readonly PaymentWrite[]): Promise<never> {
  const ids = (pick: (w: PaymentWrite) => string | undefined) => skipped.map(pick).filter((id): id is string => id !== undefined);
  const { rows } = await db.query<{
    aggregate_id: string;
    stripe_payment_intent_id: string | null;
    stripe_checkout_session_id: string | null;
  }>(HOLDERS, [skipped.map((w) => w.aggregateId), ids((w) => w.paymentIntentId), ids((w) => w.checkoutSessionId)]);
  const existing = rows.find((row) => skipped.some((w) => w.aggregateId === row.aggregate_id));
  if (existing) throw new ConcurrentPaymentWriteError(existing.aggregate_id);
  for (const write of skipped) {
    const holder = rows.find(
      (row) =>
        (write.paymentIntentId !== undefined && row.stripe_payment_intent_id === write.paymentIntentId) ||
        (write.checkoutSessionId !== undefined && row.stripe_checkout_session_id === write.checkoutSessionId),
    );
    if (!holder) continue;
    const stripeId = holder.stripe_payment_intent_id === write.paymentIntentId ? write.paymentIntentId! : write.checkoutSessionId!;
    throw new PaymentIdentityConflictError(write.aggregateId, stripeId, holder.aggregate_id);
  }
  // The colliding row is gone again (deleted since): nothing stands in the way of another try.
  throw new ConcurrentPaymentWriteError(skipped[0]!.aggregateId);
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
