import { describe, expect, it } from 'vitest';
import * as paymentsctl from '../../src/index.js';

describe('the library entry point', () => {
  it('exports what the README documents for applications and scripts', () => {
    for (const name of [
      'enqueue',
      'enqueueMany',
      'OutboxPublisher',
      'migrateDatabases',
      'ensurePipelineTopics',
      'stackUp',
      'StripeGateway',
      'stripeGatewayFromConfig',
      'classifyStripeError',
      'startStripeEmulator',
      'redact',
      'PaymentsWorker',
      'canTransition',
      'transactionHistory',
    ] as const) {
      expect(typeof paymentsctl[name], name).toBe('function');
    }
    expect(paymentsctl.Topics.ordersPlaced).toBe('orders.placed');
    expect(paymentsctl.IdempotencyKey.paymentIntent('o-1')).toBe('pi:o-1');
    expect(paymentsctl.FailureHeaders.attempts).toBe('paymentsctl_attempts');
    expect(paymentsctl.orderPlacedSchema.safeParse({ order_id: 'o', amount: 1, currency: 'usd', payment_method: 'pm' }).success).toBe(true);
  });
});
