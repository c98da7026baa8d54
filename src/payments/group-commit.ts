import type pg from 'pg';
import { withTransactionClient } from '../db/connect.js';
import { enqueueMany, type OutboxMessage } from '../outbox/enqueue.js';
import { writePayments } from './payment-writes.js';
import {
  applyWrite,
  COLUMNS,
  ConcurrentPaymentWriteError,
  fromDb,
  type DbRow,
  type InboxResult,
  type PaymentRow,
  type PaymentWrite,
} from './store.js';

/**
 * What one message does to its payments row, decided against the row as it stands, locked, inside
 * the transaction: a payments write (optional), the events announcing it (optional), and a short
 * result for metrics. Deciding must not do I/O; throw ConcurrentPaymentWriteError to have the
 * caller start over with a fresh read.
 */
export interface Decision {
  result: string;
  write?: PaymentWrite;
  events?: OutboxMessage[];
}
export type Decide = (current: PaymentRow | undefined) => Decision;

interface Item {
  consumer: string;
  messageId: string;
  aggregateId: string;
  decide: Decide;
  resolve: (result: InboxResult<string>) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  /** most messages per transaction */
  maxBatch?: number;
  /** transactions in flight at once */
  maxConcurrent?: number;
}

/**
 * Group commit for the inbox pattern. Every message's effect — inbox row, payments row, outbox
 * events — commits atomically as before, but messages that finish their Stripe call at about the
 * same time share one transaction: the same handful of round trips serve a whole batch, where
 * per-message transactions spend most of the worker's time in socket writes. Batches form by
 * themselves: while `maxConcurrent` transactions run, new messages queue for the next one.
 */
export class GroupCommitter {
  private queue: Item[] = [];
  private running = 0;
  private readonly maxBatch: number;
  private readonly maxConcurrent: number;

  constructor(
    private readonly pool: pg.Pool,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxConcurrent = options.maxConcurrent ?? 2;
  }

  /**
   * Applies `decide` once for (consumer, messageId), in a transaction with the inbox row. Resolves
   * `{ duplicate: true }` when the message was already applied, after the commit otherwise.
   */
  submit(inbox: { consumer: string; messageId: string }, aggregateId: string, decide: Decide): Promise<InboxResult<string>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...inbox, aggregateId, decide, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.commit(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async commit(batch: Item[]): Promise<void> {
    try {
      const outcomes = await withTransactionClient(this.pool, (client) => this.inTransaction(client, batch));
      batch.forEach((item, index) => {
        const outcome = outcomes[index]!;
        if (outcome instanceof Error) item.reject(outcome);
        else item.resolve(outcome);
      });
    } catch (error) {
      // Raced by another transaction, or the database failed: every message starts over.
      for (const item of batch) item.reject(error);
    }
  }

  private async inTransaction(client: pg.PoolClient, batch: Item[]): Promise<(InboxResult<string> | Error)[]> {
    await client.query('BEGIN');
    const aggregateIds = [...new Set(batch.map((item) => item.aggregateId))].sort();
    // Locked in one global order, so two batches touching the same rows cannot deadlock.
    const locked = await client.query<DbRow>(
      `SELECT ${COLUMNS} FROM payments WHERE aggregate_id = ANY($1::text[]) ORDER BY aggregate_id FOR UPDATE`,
      [aggregateIds],
    );
    const inDatabase = new Set(locked.rows.map((row) => row.aggregate_id));
    const state = new Map<string, PaymentRow>(locked.rows.map((row) => [row.aggregate_id, fromDb(row)]));
    const done = await client.query<{ consumer: string; message_id: string }>(
      `SELECT consumer, message_id FROM processed_messages WHERE (consumer, message_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [batch.map((item) => item.consumer), batch.map((item) => item.messageId)],
    );
    const applied = new Set(done.rows.map((row) => `${row.consumer}\n${row.message_id}`));

    const outcomes: (InboxResult<string> | Error)[] = [];
    const inbox: Item[] = [];
    const touched = new Set<string>();
    const events: OutboxMessage[] = [];
    for (const item of batch) {
      const inboxKey = `${item.consumer}\n${item.messageId}`;
      if (applied.has(inboxKey)) {
        outcomes.push({ duplicate: true });
        continue;
      }
      let decision: Decision;
      try {
        decision = item.decide(state.get(item.aggregateId));
      } catch (error) {
        outcomes.push(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      applied.add(inboxKey);
      inbox.push(item);
      if (decision.write) {
        state.set(item.aggregateId, applyWrite(state.get(item.aggregateId), decision.write));
        touched.add(item.aggregateId);
      }
      events.push(...(decision.events ?? []));
      outcomes.push({ duplicate: false, value: decision.result });
    }

    if (inbox.length) {
      const inserted = await client.query(
        'INSERT INTO processed_messages (consumer, message_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING',
        [inbox.map((item) => item.consumer), inbox.map((item) => item.messageId)],
      );
      // Another worker applied one of these since we looked: start the batch over.
      if (inserted.rowCount !== inbox.length) throw new ConcurrentPaymentWriteError(inbox[0]!.aggregateId);
    }
    // Each row once, merged from every decision of the batch, written as one INSERT and one UPDATE.
    await writePayments(
      client,
      [...touched].map((id) => ({ write: asWrite(state.get(id)!), existed: inDatabase.has(id) })),
    );
    await enqueueMany(client, events);
    await client.query('COMMIT');
    return outcomes;
  }
}

function asWrite(row: PaymentRow): PaymentWrite {
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
