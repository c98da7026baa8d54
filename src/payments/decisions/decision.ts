import type { OutboxMessage } from '../../outbox/enqueue.js';
import type { PaymentRow, PaymentWrite } from '../row.js';

/**
 * What one message or Stripe event does to its payments row, decided against the row as it
 * stands, locked, inside the transaction: a short result (metrics, logs, the caller's answer), a
 * write to the row (optional) and the events announcing it (optional), all committed together.
 * Deciding never does I/O; it throws ConcurrentPaymentWriteError when the row is not what the
 * work done before the transaction assumed, and the caller starts over from a fresh read.
 */
export interface Decision<R = string> {
  result: R;
  write?: PaymentWrite;
  events?: OutboxMessage[];
}

/** A decision still waiting for the row: `current` is the row as locked in the transaction, undefined when there is none. */
export type Decide<R = string> = (current: PaymentRow | undefined) => Decision<R>;
