import type pg from 'pg';
import { withTransactionClient } from '../db/connect.js';
import { GroupCommit } from '../db/group-commit.js';
import { enqueueMany, type OutboxMessage } from '../outbox/enqueue.js';
import { decideWebhookEvent, type WebhookResult } from '../payments/decisions/webhook-event.js';
import type { Decision } from '../payments/decisions/decision.js';
import type { PaymentWrite } from '../payments/row.js';
import { loadPayments, writePayments } from '../payments/store.js';
import type { EventPlan, StripeEvent } from './mapping.js';
import { oneWrite, provisionalOutcome, recordWebhookEvent, SET_OUTCOME, type RecordOptions, type RecordResult } from './store.js';

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

interface Delivery {
  event: StripeEvent;
  payload: string;
  plan: EventPlan;
}

const aggregateOf = (delivery: Delivery) => (delivery.plan.action === 'apply' ? delivery.plan.change.aggregateId : undefined);

/**
 * The webhook's group commit (db/group-commit.ts): deliveries that arrive while earlier
 * transactions are in flight are recorded together, several events in ONE transaction, each still
 * answered only after that transaction commits.
 *
 * Each event keeps exactly the semantics of recording it alone: a batch holds at most one event
 * per Stripe event id and per payments row (later ones wait for the next batch), every event gets
 * its own webhook_events row, row move and outbox events. If a batch fails as a whole, each of its
 * events is recorded again on its own, so one event that cannot be recorded never fails the others.
 */
export class GroupCommitStore {
  private readonly group: GroupCommit<Delivery, RecordResult>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: GroupCommitOptions,
  ) {
    this.group = new GroupCommit({
      maxBatch: options.maxBatch ?? 64,
      maxConcurrent: options.maxConcurrentBatches ?? 4,
      keysOf: (delivery) => {
        const aggregate = aggregateOf(delivery);
        return aggregate === undefined ? [`event:${delivery.event.id}`] : [`event:${delivery.event.id}`, `payment:${aggregate}`];
      },
      commit: (batch) => this.commit(batch),
    });
  }

  record(event: StripeEvent, payload: string, plan: EventPlan): Promise<RecordResult> {
    // Found by PaymentIntent id: which row it locks is known only inside the transaction, so it
    // cannot be kept apart from the other events of a batch. Rare; recorded alone.
    if (plan.action === 'apply' && plan.change.aggregateId === undefined) return this.recordAlone({ event, payload, plan });
    return this.group.submit({ event, payload, plan });
  }

  private recordAlone(delivery: Delivery): Promise<RecordResult> {
    return recordWebhookEvent(this.pool, delivery.event, delivery.payload, delivery.plan, this.options);
  }

  private async commit(batch: Delivery[]): Promise<PromiseSettledResult<RecordResult>[]> {
    if (batch.length === 1) {
      this.options.onBatch?.(1);
      return Promise.allSettled([this.recordAlone(batch[0]!)]);
    }
    let results: RecordResult[];
    try {
      results = await this.inOneTransaction(batch);
    } catch (error) {
      this.options.onBatchFailed?.(error, batch.length);
      // Whatever failed, failed for the whole batch; alone, each event succeeds or fails on its own.
      return Promise.allSettled(batch.map((delivery) => this.recordAlone(delivery)));
    }
    this.options.onBatch?.(batch.length);
    return results.map((value) => ({ status: 'fulfilled', value }));
  }

  /**
   * The batch in the three round trips of a single event (store.ts): claim every event id and lock
   * every row; write every move and outbox event; commit. Ids and rows are locked in sorted order,
   * so two batches (or a batch and a worker) can wait for each other but never deadlock.
   */
  private async inOneTransaction(batch: Delivery[]): Promise<RecordResult[]> {
    return withTransactionClient(this.pool, async (client) => {
      const aggregates = [...new Set(batch.flatMap((delivery) => aggregateOf(delivery) ?? []))].sort();
      // A statement per step, not per event: every statement costs the database a reply of its own.
      const [, claims, , rows] = await Promise.all(
        oneWrite(client, () => [
          client.query('BEGIN'),
          // Named (parsed once per connection): an insert has no plan to go stale.
          client.query<{ stripe_event_id: string }>({
            name: 'paymentsctl-webhook-claim',
            text: CLAIM_EVENTS,
            values: [
              batch.map((d) => d.event.id),
              batch.map((d) => d.event.type),
              batch.map((d) => provisionalOutcome(d.plan)),
              batch.map((d) => d.payload),
            ],
          }),
          // Not named: a plan cached while the table was small would scan it whole ever after.
          aggregates.length ? client.query(LOCK_PAYMENTS, [aggregates]) : undefined,
          // Read after the locks, in the same transaction: the rows as they are now.
          loadPayments(client, aggregates),
        ]),
      );
      const claimed = new Set(claims.rows.map((row) => row.stripe_event_id));

      const decisions = batch.map((d): Decision<WebhookResult> | 'duplicate' | 'recorded' => {
        if (!claimed.has(d.event.id)) return 'duplicate';
        if (d.plan.action !== 'apply') return 'recorded';
        return decideWebhookEvent(d.event.id, d.plan.change, rows.get(d.plan.change.aggregateId!), this.options.source);
      });
      const events: OutboxMessage[] = [];
      const payments: { write: PaymentWrite; existed: boolean }[] = [];
      const writes = oneWrite(client, () => {
        const sent: Promise<unknown>[] = [];
        batch.forEach((d, i) => {
          const decision = decisions[i]!;
          if (typeof decision === 'string') return;
          if (decision.result.outcome !== provisionalOutcome(d.plan))
            sent.push(client.query(SET_OUTCOME, [d.event.id, decision.result.outcome]));
          if (decision.write) payments.push({ write: decision.write, existed: rows.has(decision.write.aggregateId) });
          events.push(...(decision.events ?? []));
        });
        if (payments.length) sent.push(writePayments(client, payments));
        // One statement for all: it takes the outbox's per-key locks in their global order.
        if (events.length) sent.push(enqueueMany(client, events));
        return sent;
      });
      await Promise.all(writes);
      await client.query('COMMIT');
      return batch.map((d, i): RecordResult => {
        const decision = decisions[i]!;
        if (decision === 'duplicate') return { duplicate: true };
        if (decision === 'recorded') return { duplicate: false, outcome: provisionalOutcome(d.plan) };
        return { duplicate: false, ...decision.result };
      });
    });
  }
}
