import pLimit from 'p-limit';
import type pg from 'pg';
import { abortableSleep } from '../backoff.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { EmulatorAdminError, type EmulatorAdminClient } from '../stripe-emulator/admin-client.js';
import type { CheckoutCompletion, PlannedOrder } from './plan.js';

const POLL_MS = 250;

/**
 * The riders of a `dev` run: once the worker has opened a Checkout Session for a trip, its rider
 * "pays" on the hosted page — through the emulator, which then sends the signed webhooks the
 * receiver must turn into outcomes.
 */
export class CheckoutCustomers {
  private readonly waiting = new Map<string, CheckoutCompletion>();
  private readonly limit = pLimit(8);

  constructor(
    private readonly pool: pg.Pool,
    private readonly emulator: EmulatorAdminClient,
    orders: readonly PlannedOrder[],
    private readonly log: Logger,
  ) {
    for (const order of orders) if (order.checkoutCompletion) this.waiting.set(order.aggregateId, order.checkoutCompletion);
  }

  /** Completes sessions as they appear until every planned one is done or `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.waiting.size > 0) {
      const open = await this.pool
        .query<{ aggregate_id: string; session: string }>(
          `SELECT aggregate_id, stripe_checkout_session_id AS session FROM payments
            WHERE kind = 'checkout_session' AND stripe_checkout_session_id IS NOT NULL
              AND status IN ('pending', 'requires_action') AND aggregate_id = ANY($1)`,
          [[...this.waiting.keys()]],
        )
        .catch((error: unknown) => {
          this.log.warn({ err: errorMessage(error) }, 'could not look for open Checkout Sessions');
          return { rows: [] };
        });
      await Promise.all(open.rows.map((row) => this.limit(() => this.pay(row.aggregate_id, row.session))));
      await abortableSleep(POLL_MS, [signal]);
    }
  }

  private async pay(aggregateId: string, sessionId: string): Promise<void> {
    const completion = this.waiting.get(aggregateId);
    if (!completion) return;
    try {
      // A delayed method settles a moment later, as a bank debit would.
      await this.emulator.completeCheckoutSession(sessionId, completion, completion === 'paid' ? 0 : 300);
      this.waiting.delete(aggregateId);
    } catch (error) {
      // Completed or expired already (e.g. a second look before the webhook moved the row).
      if (error instanceof EmulatorAdminError && error.status === 400) {
        this.waiting.delete(aggregateId);
        return;
      }
      this.log.warn({ aggregateId, err: errorMessage(error) }, 'could not complete a Checkout Session; will try again');
    }
  }
}
