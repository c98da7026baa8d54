import { InboxConsumers, Topics } from '../../contracts.js';
import { decideHistoryEntry, type MoneyEvent } from '../../payments/decisions/history.js';
import {
  aggregateIdOf,
  paymentCompletedInSchema,
  paymentFailedInSchema,
  paymentRefundedInSchema,
  type PaymentCompletedIn,
  type PaymentFailedHistoryIn,
  type PaymentRefundedIn,
} from '../../payments/events.js';
import { defined } from '../../optional.js';
import type { TransactionKind } from '../../payments/transactions.js';
import type { InboundMessage, TopicHandler } from '../handler.js';

type MoneyEventIn = PaymentCompletedIn | PaymentRefundedIn | PaymentFailedHistoryIn;

/** What every money event says, whatever its topic. */
function moneyEvent(kind: TransactionKind, data: MoneyEventIn, message: InboundMessage): MoneyEvent {
  return {
    kind,
    eventId: message.messageId,
    occurredAt: message.eventTime,
    aggregateId: aggregateIdOf(data),
    ...defined('userId', data.user_id ?? data.customer),
    ...defined('amount', data.amount),
    ...defined('currency', data.currency),
    ...defined('paymentIntentId', data.payment_intent_id),
    ...defined('chargeId', data.charge_id),
    ...defined('checkoutSessionId', data.session_id),
  };
}

/**
 * payments.completed, payments.refunded and payments.failed → one entry each in the user's
 * transaction history (charge, refund, failed), in the transaction of its inbox row: the
 * ride-share seed's GET /api/finance/me, made from the same events.
 */
export function historyHandlers(): TopicHandler[] {
  const completed: TopicHandler<PaymentCompletedIn> = {
    name: 'history',
    topic: Topics.paymentsCompleted,
    consumer: InboxConsumers.history,
    schema: paymentCompletedInSchema,
    aggregateOf: aggregateIdOf,
    async prepare(data, message) {
      const event = moneyEvent('charge', data, message);
      return (current) => decideHistoryEntry(event, current);
    },
  };
  const refunded: TopicHandler<PaymentRefundedIn> = {
    name: 'history',
    topic: Topics.paymentsRefunded,
    consumer: InboxConsumers.history,
    schema: paymentRefundedInSchema,
    aggregateOf: aggregateIdOf,
    async prepare(data, message) {
      const event = { ...moneyEvent('refund', data, message), ...defined('refundId', data.refund_id) };
      return (current) => decideHistoryEntry(event, current);
    },
  };
  const failed: TopicHandler<PaymentFailedHistoryIn> = {
    name: 'history',
    topic: Topics.paymentsFailed,
    consumer: InboxConsumers.history,
    schema: paymentFailedInSchema,
    aggregateOf: aggregateIdOf,
    async prepare(data, message) {
      const event = { ...moneyEvent('failed', data, message), ...defined('failureReason', data.code ?? data.reason) };
      return (current) => decideHistoryEntry(event, current);
    },
  };
  return [completed, refunded, failed];
}
