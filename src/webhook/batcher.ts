import { withTransactionClient } from '../db/connect.js';
import type pg from 'pg';
import { enqueueMany, type OutboxMessage } from '../outbox/enqueue.js';
import { loadPayments } from '../payments/store.js';
import type { EventPlan, StripeEvent } from './mapping.js';
import { writePayments } from '../payments/payment-writes.js';
import {
  decide,
  oneWrite,
  provisionalOutcome,
  recordWebhookEvent,
  SET_OUTCOME,
  type Decision,
  type RecordOptions,
  type RecordResult,
} from './store.js';

// Ids in sorted order: two batches claiming the same ids take their locks in one order.
const CLAIM_EVENTS = `
  INSERT INTO webhook_events (stripe_event_id, type, outcome, payload)
  SELECT e.id, e.type, e.outcome, e.payload::jsonb
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS e(id, type, outcome, payload)
  ORDER BY e.id
  ON CONFLICT (stripe_event_id) DO NOTHING
  RETURNING stripe_event_id`;
const LOCK_PAYMENTS = 'SELECT 1 FROM payments WHERE aggregate_id = ANY($1::text[]) ORDER BY aggregate_id FOR UPDATE';

export interface GroupCommitOptions extends RecordOptions {
  /** events per transaction at most */
  maxBatch?: number;
  /** transactions in flight at once; each holds one connection */
  maxConcurrentBatches?: number;
  /** told the size of every batch committed (a metric) */
  onBatch?: (size: number) => void;
  /** told why a batch failed as a whole (its events are then recorded one by one) */
  onBatchFailed?: (error: unknown, size: number) => void;
}

interface Pending {
  event: StripeEvent;
  payload: string;
  plan: EventPlan;
  resolve: (result: RecordResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: deliveries that arrive while earlier transactions are in flight are recorded
 * together, several events in ONE transaction, each still answered only after that transaction
 * commits. A transaction's cost here is its round trips and its commit, not its rows, so under
 * load this multiplies throughput; when idle every event is its own transaction at once (no timer
 * ever holds one back).
 *
 * Each event keeps exactly the semantics of recording it alone: a batch holds at most one event
 * per Stripe event id and per payments row (later ones wait for the next batch), every event gets
 * its own webhook_events row, row move and outbox events. If a batch fails as a whole, each of its
 * events is recorded again on its own, so one event that cannot be recorded never fails the others.
 */
export class GroupCommitStore {
  private queue: Pending[] = [];
  private running = 0;
  private readonly maxBatch: number;
  private readonly maxConcurrent: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: GroupCommitOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxConcurrent = options.maxConcurrentBatches ?? 4;
  }

  record(event: StripeEvent, payload: string, plan: EventPlan): Promise<RecordResult> {
    // Found by PaymentIntent id: which row it locks is known only inside the transaction, so it
    // cannot be kept apart from the other events of a batch. Rare; recorded alone.
    if (plan.action === 'apply' && plan.change.aggregateId === undefined)
      return recordWebhookEvent(this.pool, event, payload, plan, this.options);
    return new Promise<RecordResult>((resolve, reject) => {
      this.queue.push({ event, payload, plan, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.take();
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** The oldest events, at most one per event id and per payments row; the rest stay queued in order. */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const eventIds = new Set<string>();
    const aggregates = new Set<string>();
    for (const pending of this.queue) {
      const aggregate = pending.plan.action === 'apply' ? pending.plan.change.aggregateId : undefined;
      if (batch.length < this.maxBatch && !eventIds.has(pending.event.id) && !(aggregate !== undefined && aggregates.has(aggregate))) {
        batch.push(pending);
        eventIds.add(pending.event.id);
        if (aggregate !== undefined) aggregates.add(aggregate);
      } else {
        rest.push(pending);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      this.options.onBatch?.(1);
      await recordWebhookEvent(this.pool, only.event, only.payload, only.plan, this.options).then(only.resolve, only.reject);
      return;
    }
    let results: RecordResult[];
    try {
      results = await this.inOneTransaction(batch);
    } catch (error) {
      this.options.onBatchFailed?.(error, batch.length);
      // Whatever failed, failed for the whole batch; alone, each event succeeds or fails on its own.
      await Promise.all(
        batch.map((p) => recordWebhookEvent(this.pool, p.event, p.payload, p.plan, this.options).then(p.resolve, p.reject)),
      );
      return;
    }
    this.options.onBatch?.(batch.length);
    batch.forEach((pending, i) => pending.resolve(results[i]!));
  }

  /**
   * The batch in the three round trips of a single event (store.ts): claim every event id and lock
   * every row; write every move and outbox event; commit. Ids and rows are locked in sorted order,
   * so two batches (or a batch and a worker) can wait for each other but never deadlock.
   */
  private async inOneTransaction(batch: Pending[]): Promise<RecordResult[]> {
    return withTransactionClient(this.pool, async (client) => {
      const aggregates = [...new Set(batch.flatMap((p) => (p.plan.action === 'apply' ? [p.plan.change.aggregateId!] : [])))].sort();
      // A statement per step, not per event: every statement costs the database a reply of its own.
      const [, claims, , rows] = await Promise.all(
        oneWrite(client, () => [
          client.query('BEGIN'),
          // Named (parsed once per connection): an insert has no plan to go stale.
          client.query<{ stripe_event_id: string }>({
            name: 'paymentsctl-webhook-claim',
            text: CLAIM_EVENTS,
            values: [
              batch.map((p) => p.event.id),
              batch.map((p) => p.event.type),
              batch.map((p) => provisionalOutcome(p.plan)),
              batch.map((p) => p.payload),
            ],
          }),
          // Not named: a plan cached while the table was small would scan it whole ever after.
          aggregates.length ? client.query(LOCK_PAYMENTS, [aggregates]) : undefined,
          // Read after the locks, in the same transaction: the rows as they are now.
          loadPayments(client, aggregates),
        ]),
      );
      const claimed = new Set(claims.rows.map((row) => row.stripe_event_id));

      const decisions = batch.map((p): Decision | 'duplicate' | 'recorded' => {
        if (!claimed.has(p.event.id)) return 'duplicate';
        if (p.plan.action !== 'apply') return 'recorded';
        return decide(p.event, p.plan.change, rows.get(p.plan.change.aggregateId!), this.options);
      });
      const messages: OutboxMessage[] = [];
      const payments: NonNullable<Decision['payment']>[] = [];
      const writes = oneWrite(client, () => {
        const sent: Promise<unknown>[] = [];
        batch.forEach((p, i) => {
          const decision = decisions[i]!;
          if (typeof decision === 'string') return;
          if (decision.result.outcome !== provisionalOutcome(p.plan))
            sent.push(client.query(SET_OUTCOME, [p.event.id, decision.result.outcome]));
          if (decision.payment) payments.push(decision.payment);
          messages.push(...decision.messages);
        });
        if (payments.length) sent.push(writePayments(client, payments));
        // One statement for all: it takes the outbox's per-key locks in their global order.
        if (messages.length) sent.push(enqueueMany(client, messages));
        return sent;
      });
      await Promise.all(writes);
      await client.query('COMMIT');
      return batch.map((p, i): RecordResult => {
        const decision = decisions[i]!;
        if (decision === 'duplicate') return { duplicate: true };
        if (decision === 'recorded') return { duplicate: false, outcome: provisionalOutcome(p.plan) };
        return decision.result;
      });
    });
  }
}
