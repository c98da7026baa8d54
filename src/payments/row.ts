import type { PaymentStatus } from './status.js';

/** A payments row (one per order or trip), and a write to it, as the decisions see them. No SQL here: store.ts reads and writes them. */

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

/** Another transaction created the same payments row first, or moved it since it was read; run the whole step again. */
export class ConcurrentPaymentWriteError extends Error {
  constructor(readonly aggregateId: string) {
    super(`payments row ${aggregateId} was created concurrently`);
    this.name = 'ConcurrentPaymentWriteError';
  }
}

/**
 * A new payments row names a PaymentIntent or Checkout Session that another order or trip's row
 * already records: no retry can make both true (bad data, or a bug), so the step is refused.
 */
export class PaymentIdentityConflictError extends Error {
  constructor(
    readonly aggregateId: string,
    readonly stripeId: string,
    readonly heldBy: string,
  ) {
    super(`payments row ${aggregateId} cannot be created: ${stripeId} is already recorded for ${heldBy}`);
    this.name = 'PaymentIdentityConflictError';
  }
}

/** A write applied to a row as `writePayments` applies it: ids and amounts given replace, others stay. */
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

/** The whole row as a write: what a group commit writes once for a row several decisions moved. */
export function rowAsWrite(row: PaymentRow): PaymentWrite {
  return {
    aggregateId: row.aggregateId,
    kind: row.kind,
    status: row.status,
    amount: row.amount,
    currency: row.currency,
    idempotencyKey: row.idempotencyKey,
    ...(row.paymentIntentId ? { paymentIntentId: row.paymentIntentId } : {}),
    ...(row.checkoutSessionId ? { checkoutSessionId: row.checkoutSessionId } : {}),
    ...(row.refundId ? { refundId: row.refundId } : {}),
    failureCode: row.failureCode,
    failureMessage: row.failureMessage,
    metadata: row.metadata,
  };
}
