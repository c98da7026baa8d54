import type pg from 'pg';
import { withTransactionClient } from '../db/connect.js';
import { GroupCommit } from '../db/group-commit.js';
import { enqueueMany, type OutboxMessage } from '../outbox/enqueue.js';
import type { Decide } from './decisions/decision.js';
import { applyWrite, ConcurrentPaymentWriteError, rowAsWrite, type PaymentRow } from './row.js';
import { COLUMNS, fromDb, writePayments, type DbRow, type InboxResult } from './store.js';
import { appendTransactions, type TransactionEntry } from './transactions.js';

interface Item {
  consumer: string;
  messageId: string;
  aggregateId: string;
  decide: Decide;
}

/** A committed decision's outcome: its result, and why it changed nothing when it says so. */
export interface Committed {
  result: string;
  skipped?: string;
}

export interface InboxCommitOptions {
  /** most messages per transaction */
  maxBatch?: number;
  /** transactions in flight at once */
  maxConcurrent?: number;
  /** told the size of every transaction's batch as it starts (a metric) */
  onBatch?: (size: number) => void;
  /** a transaction waits for this many messages (default 16) while others are still being prepared ... */
  lingerItems?: number;
  /** ... but at most this long (default 20 ms); 0 never waits */
  lingerMs?: number;
}

/**
 * The worker's transaction, group-committed: every message's effect — inbox row, payments row,
 * outbox events, transaction-history entries — commits atomically, but messages that finish their Stripe call at about the
 * same time share one transaction: the same handful of round trips serve a whole batch, where
 * per-message transactions spend most of the worker's time in socket writes.
 */
export class InboxCommitter {
  private readonly group: GroupCommit<Item, InboxResult<Committed>>;
  /** messages whose decision is being prepared (their Stripe call under way): the company a transaction may wait for */
  private preparing = 0;

  constructor(pool: pg.Pool, options: InboxCommitOptions = {}) {
    this.group = new GroupCommit({
      maxBatch: options.maxBatch ?? 500,
      // One transaction at a time: messages finishing while it commits all join the next one. Two
      // in flight halved the batches, and per payment the worker, PostgreSQL and the emulator all
      // spent more CPU (bench/worker, alternating runs: about 15% less in total with one).
      maxConcurrent: options.maxConcurrent ?? 1,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      // Messages still in their Stripe call finish within milliseconds of each other under load:
      // waiting for them makes one transaction of what would be several (three workers at 1,000
      // payments/s committed 6 a transaction without it, 12–15 with it). With nothing else under
      // way a message commits at once, so a quiet worker adds no latency.
      linger: { items: options.lingerItems ?? 16, maxMs: options.lingerMs ?? 20, coming: () => this.preparing },
      // Raced by another transaction, or the database failed: every message of the batch starts over.
      commit: (batch) => withTransactionClient(pool, (client) => inTransaction(client, batch)),
    });
  }

  /**
   * Marks a message as on its way to `submit` (its Stripe call under way); call the function it
   * returns when it gets there, or gives up.
   */
  beginPreparing(): () => void {
    this.preparing++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.preparing--;
      this.group.pump();
    };
  }

  /**
   * Applies `decide` once for (consumer, messageId), in a transaction with the inbox row. Resolves
   * `{ duplicate: true }` when the message was already applied, after the commit otherwise.
   */
  submit(inbox: { consumer: string; messageId: string }, aggregateId: string, decide: Decide): Promise<InboxResult<Committed>> {
    return this.group.submit({ ...inbox, aggregateId, decide });
  }
}

async function inTransaction(client: pg.PoolClient, batch: Item[]): Promise<PromiseSettledResult<InboxResult<Committed>>[]> {
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

  const outcomes: PromiseSettledResult<InboxResult<Committed>>[] = [];
  const inbox: Item[] = [];
  const touched = new Set<string>();
  const events: OutboxMessage[] = [];
  const transactions: TransactionEntry[] = [];
  for (const item of batch) {
    const inboxKey = `${item.consumer}\n${item.messageId}`;
    if (applied.has(inboxKey)) {
      outcomes.push({ status: 'fulfilled', value: { duplicate: true } });
      continue;
    }
    let decision;
    try {
      decision = item.decide(state.get(item.aggregateId));
    } catch (error) {
      outcomes.push({ status: 'rejected', reason: error });
      continue;
    }
    applied.add(inboxKey);
    inbox.push(item);
    if (decision.write) {
      state.set(item.aggregateId, applyWrite(state.get(item.aggregateId), decision.write));
      touched.add(item.aggregateId);
    }
    events.push(...(decision.events ?? []));
    transactions.push(...(decision.transactions ?? []));
    const committed: Committed = decision.skipped ? { result: decision.result, skipped: decision.skipped } : { result: decision.result };
    outcomes.push({ status: 'fulfilled', value: { duplicate: false, value: committed } });
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
    [...touched].map((id) => ({ write: rowAsWrite(state.get(id)!), existed: inDatabase.has(id) })),
  );
  await enqueueMany(client, events);
  await appendTransactions(client, transactions);
  await client.query('COMMIT');
  return outcomes;
}
