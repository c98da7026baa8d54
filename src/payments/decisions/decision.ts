import type { OutboxMessage } from '../../outbox/enqueue.js';
import type { PaymentRow, PaymentWrite } from '../row.js';
import type { TransactionEntry } from '../transactions.js';

/**
 * What one message or Stripe event does to its payments row, decided against the row as it
 * stands, locked, inside the transaction: a short result (metrics, logs, the caller's answer), a
 * write to the row (optional), the events announcing it (optional) and the entries it adds to a
 * user's transaction history (optional), all committed together.
 * Deciding never does I/O; it throws ConcurrentPaymentWriteError when the row is not what the
 * work done before the transaction assumed, and the caller starts over from a fresh read.
 */
export interface Decision<R = string> {
  result: R;
  write?: PaymentWrite;
  events?: OutboxMessage[];
  transactions?: TransactionEntry[];
  /** why the message changes nothing although it is not a duplicate (logged once it commits) */
  skipped?: string;
}

/** A decision still waiting for the row: `current` is the row as locked in the transaction, undefined when there is none. */
export type Decide<R = string> = (current: PaymentRow | undefined) => Decision<R>;
