import type pg from 'pg';
import { withTransactionClient } from '../../db/connect.js';
import { errorMessage } from '../../errors.js';
import { enqueueMany } from '../../outbox/enqueue.js';
import { decideRepair, type Discrepancy, type RepairResult } from '../../payments/decisions/reconcile.js';
import { ConcurrentPaymentWriteError } from '../../payments/row.js';
import { lockPayment, writePayments } from '../../payments/store.js';
import { RETRYABLE_SQLSTATES } from '../../webhook/store.js';
import type { StripeReconcileReader } from '../../stripe/listing.js';

/**
 * Repairs, each in the pipeline's own way: a lost outcome moves the payments row and writes its
 * event (payments.completed / failed / refunded) to the outbox in ONE transaction, decided on the
 * row as locked then; a duplicate charge is refunded at Stripe under `re:dup:<payment_intent>`
 * (only when asked). Every repair is recorded in reconcile_repairs.
 */

export interface RepairOutcome {
  code: Discrepancy['code'];
  aggregateId: string;
  result: RepairResult | 'refunded_duplicate' | 'needs_flag' | 'failed' | 'flag_only';
  /** the outbox events written, or the refunds made */
  eventIds?: string[];
  refunds?: { paymentIntentId: string; refundId: string }[];
  error?: string;
}

export interface RepairOptions {
  refundDuplicates: boolean;
  /** CloudEvents source of the events written */
  source: string;
}

const MAX_ATTEMPTS = 5;

export async function repair(
  pool: pg.Pool,
  reader: StripeReconcileReader,
  item: Discrepancy,
  options: RepairOptions,
): Promise<RepairOutcome> {
  const base = { code: item.code, aggregateId: item.aggregateId };
  const fix = item.fix;
  try {
    if (fix.action === 'record_outcome') {
      for (let attempt = 1; ; attempt++) {
        try {
          return { ...base, ...(await recordOutcome(pool, item, fix, options.source)) };
        } catch (error) {
          const again = error instanceof ConcurrentPaymentWriteError || RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? '');
          if (!again || attempt >= MAX_ATTEMPTS) throw error;
        }
      }
    }
    if (fix.action === 'refund_duplicates') {
      if (!options.refundDuplicates) return { ...base, result: 'needs_flag' };
      const refunds = [];
      for (const paymentIntentId of fix.refund) {
        const refund = await reader.refundDuplicate(item.aggregateId, paymentIntentId);
        refunds.push({ paymentIntentId, refundId: refund.id });
        await pool.query('INSERT INTO reconcile_repairs (aggregate_id, code, action, stripe_object) VALUES ($1, $2, $3, $4)', [
          item.aggregateId,
          item.code,
          `refunded ${refund.id}`,
          paymentIntentId,
        ]);
      }
      return { ...base, result: 'refunded_duplicate', refunds };
    }
    return { ...base, result: 'flag_only' };
  } catch (error) {
    return { ...base, result: 'failed', error: errorMessage(error) };
  }
}

async function recordOutcome(
  pool: pg.Pool,
  item: Discrepancy,
  fix: Extract<Discrepancy['fix'], { action: 'record_outcome' }>,
  source: string,
): Promise<Pick<RepairOutcome, 'result' | 'eventIds'>> {
  return withTransactionClient(pool, async (client) => {
    await client.query('BEGIN');
    const row = await lockPayment(client, item.aggregateId);
    const decision = decideRepair(fix, row, source);
    if (!decision.write) {
      await client.query('ROLLBACK');
      return { result: decision.result };
    }
    await writePayments(client, [{ write: decision.write, existed: row !== undefined }]);
    const eventIds = await enqueueMany(client, decision.events ?? []);
    await client.query(
      'INSERT INTO reconcile_repairs (aggregate_id, code, action, stripe_object, event_ids) VALUES ($1, $2, $3, $4, $5::uuid[])',
      [item.aggregateId, item.code, `recorded ${fix.next}`, fix.object, eventIds],
    );
    await client.query('COMMIT');
    return { result: decision.result, eventIds };
  });
}
