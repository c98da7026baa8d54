/** The payments row's state machine (one row per order or trip). */
export type PaymentStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'cancelled' | 'refunded';

export const PAYMENT_STATUSES: readonly PaymentStatus[] = ['pending', 'requires_action', 'succeeded', 'failed', 'cancelled', 'refunded'];

const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
  pending: ['requires_action', 'succeeded', 'failed', 'cancelled'],
  requires_action: ['pending', 'succeeded', 'failed', 'cancelled'],
  // Money taken can only be given back.
  succeeded: ['refunded'],
  failed: [],
  // A cancellation recorded before the charge (a tombstone) yields only to a charge that raced it
  // and already took the money; the saga then refunds that charge.
  cancelled: ['succeeded'],
  refunded: [],
};

/** Terminal statuses: an order or trip that reached one has its outcome. */
export function isTerminal(status: PaymentStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled' || status === 'refunded';
}

/**
 * Whether a row may move from `from` (undefined: no row yet) to `to`. Staying put is not a move.
 * Late or out-of-order news (a webhook after the worker recorded the result, a retried message)
 * never moves a row backwards.
 */
export function canTransition(from: PaymentStatus | undefined, to: PaymentStatus): boolean {
  if (from === undefined) return true;
  return NEXT[from].includes(to);
}
