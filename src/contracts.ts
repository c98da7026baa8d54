/**
 * The names the pipeline's parts agree on, each spelled here once. Glossary:
 *
 * - topic: a Kafka topic of the pipeline, named without the deployment's prefix. An event's
 *   CloudEvents type (`ce_type`) is the name of the topic it is published on.
 * - inbox consumer: the name under which a worker handler records each message it applied
 *   (`processed_messages.consumer`); a message is applied once per consumer.
 */

/** The pipeline's topics (see ARCHITECTURE): seed names kept, compensation and checkout added. */
export const Topics = {
  /** an order to charge with a saved payment method (in) */
  ordersPlaced: 'orders.placed',
  /** a payment that took the money */
  paymentsCompleted: 'payments.completed',
  /** a payment that failed for good */
  paymentsFailed: 'payments.failed',
  /** an order or trip released; the saga gives back any money taken */
  ordersCancelled: 'orders.cancelled',
  /** money given back */
  paymentsRefunded: 'payments.refunded',
  /** a trip to pay through a hosted Checkout Session (in) */
  checkoutRequested: 'checkout.requested',
  /** the session a rider's browser is sent to */
  checkoutSessionCreated: 'payments.checkout_session_created',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];

/** The worker handlers' inbox consumer names. */
export const InboxConsumers = {
  /** orders.placed → one PaymentIntent per order */
  payments: 'worker.payments',
  /** checkout.requested → one Checkout Session per trip */
  checkout: 'worker.checkout',
  /** payments.failed → orders.cancelled */
  sagaRelease: 'worker.saga.release',
  /** orders.cancelled → refund; an order is compensated once this consumer has processed its cancellation */
  sagaRefund: 'worker.saga.refund',
  /** payments.completed / .refunded / .failed → one entry each in the user's transaction history */
  history: 'worker.history',
} as const;
