import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeEmulator, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { createStripeClient } from '../../src/stripe/client.js';
import { StripeGateway, IdempotencyKey } from '../../src/stripe/gateway.js';
import { StripeGatewayError } from '../../src/stripe/errors.js';

const KEY = 'sk_test_gateway_suite';

describe('the Stripe gateway against the emulator', () => {
  let emulator: RunningEmulator;
  let gateway: StripeGateway;
  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: 0, seed: 7 });
    // No SDK-level retries: each call shows exactly what the gateway makes of one answer.
    gateway = new StripeGateway(createStripeClient({ apiKey: KEY, apiBase: emulator.url, maxNetworkRetries: 0, timeoutMs: 2_000 }));
  });
  afterAll(async () => {
    await emulator.close();
  });

  async function charges(): Promise<{ byIdempotencyKey: Record<string, number> }> {
    const response = await fetch(`${emulator.url}/_emulator/charges`);
    return (await response.json()) as { byIdempotencyKey: Record<string, number> };
  }

  it('charges an order once however often it is asked (idempotency key pi:<order_id>)', async () => {
    const request = { orderId: 'order-ok', amount: 1999, currency: 'USD', paymentMethod: 'pm_card_visa' };
    const first = await gateway.chargeOrder(request);
    const again = await gateway.chargeOrder(request);
    expect(first).toMatchObject({ status: 'succeeded' });
    expect(again).toEqual(first);
    const intent = await gateway.retrievePaymentIntent(first.status === 'succeeded' ? first.paymentIntentId : '');
    expect(intent.metadata).toMatchObject({ order_id: 'order-ok' });
    expect(intent.amount).toBe(1999);
    expect((await charges()).byIdempotencyKey[IdempotencyKey.paymentIntent('order-ok')]).toBe(1);
  });

  it('reports a decline as an outcome with its decline code', async () => {
    const outcome = await gateway.chargeOrder({
      orderId: 'order-poor',
      amount: 500,
      currency: 'usd',
      paymentMethod: 'pm_card_chargeDeclinedInsufficientFunds',
    });
    expect(outcome).toMatchObject({ status: 'declined', code: 'card_declined', declineCode: 'insufficient_funds' });
  });

  it('reports a card that needs authentication as requires_action', async () => {
    const outcome = await gateway.chargeOrder({
      orderId: 'order-3ds',
      amount: 500,
      currency: 'usd',
      paymentMethod: 'pm_card_authenticationRequired',
    });
    expect(outcome.status).toBe('requires_action');
  });

  it('classifies a 5xx and a 429 as retryable and an invalid request as a bug', async () => {
    emulator.setFaults({ errorRate: 1, errorStatus: 500 });
    const serverError = await gateway
      .chargeOrder({ orderId: 'order-5xx', amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' })
      .catch((e: unknown) => e);
    emulator.setFaults({ errorRate: 1, errorStatus: 429 });
    const rateLimited = await gateway
      .chargeOrder({ orderId: 'order-429', amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' })
      .catch((e: unknown) => e);
    emulator.setFaults({ errorRate: 0 });
    expect(serverError).toBeInstanceOf(StripeGatewayError);
    expect((serverError as StripeGatewayError).kind).toBe('retryable');
    expect((rateLimited as StripeGatewayError).kind).toBe('retryable');

    const invalid = await gateway
      .chargeOrder({ orderId: 'order-bad', amount: -5, currency: 'usd', paymentMethod: 'pm_card_visa' })
      .catch((e: unknown) => e);
    expect((invalid as StripeGatewayError).kind).toBe('invalid');
  });

  it('classifies a timeout and a reset connection as retryable', async () => {
    emulator.setFaults({ timeoutRate: 1 });
    const timedOut = await gateway
      .chargeOrder({ orderId: 'order-timeout', amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' })
      .catch((e: unknown) => e);
    emulator.setFaults({ timeoutRate: 0, resetRate: 1 });
    const reset = await gateway
      .chargeOrder({ orderId: 'order-reset', amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' })
      .catch((e: unknown) => e);
    emulator.setFaults({ resetRate: 0 });
    expect((timedOut as StripeGatewayError).kind).toBe('retryable');
    expect((reset as StripeGatewayError).kind).toBe('retryable');
  });

  it('classifies the same idempotency key with other parameters as a bug', async () => {
    await gateway.chargeOrder({ orderId: 'order-twice', amount: 100, currency: 'usd', paymentMethod: 'pm_card_visa' });
    const error = await gateway
      .chargeOrder({ orderId: 'order-twice', amount: 200, currency: 'usd', paymentMethod: 'pm_card_visa' })
      .catch((e: unknown) => e);
    expect((error as StripeGatewayError).kind).toBe('invalid');
  });

  it('classifies a bad API key as a bug naming STRIPE_API_KEY', async () => {
    const anonymous = new StripeGateway(
      createStripeClient({ apiKey: 'sk_live_wrongwrongwrong', apiBase: emulator.url, maxNetworkRetries: 0 }),
    );
    const error = (await anonymous.retrievePaymentIntent('pi_nothing').catch((e: unknown) => e)) as StripeGatewayError;
    expect(error.kind).toBe('invalid');
    expect(error.message).toContain('STRIPE_API_KEY');
  });

  it('creates a Checkout Session carrying trip, rider and driver, once per trip', async () => {
    const request = {
      tripId: 'trip-1',
      amount: 2350,
      currency: 'inr',
      productName: 'Ride',
      successUrl: 'https://example.test/ok',
      cancelUrl: 'https://example.test/cancel',
      metadata: { user_id: 'rider-1', driver_id: 'driver-9' },
    };
    const session = await gateway.createCheckoutSession(request);
    expect(session).toMatchObject({ amountTotal: 2350, currency: 'inr' });
    expect(session.sessionId).toMatch(/^cs_test_/);
    expect(session.url).toMatch(/^http/);
    expect(await gateway.createCheckoutSession(request)).toEqual(session);
    const stored = await gateway.retrieveCheckoutSession(session.sessionId);
    expect(stored.metadata).toEqual({ trip_id: 'trip-1', user_id: 'rider-1', driver_id: 'driver-9' });
  });

  it('refunds a paid order once (idempotency key re:<order_id>)', async () => {
    const paid = await gateway.chargeOrder({ orderId: 'order-refund', amount: 3000, currency: 'usd', paymentMethod: 'pm_card_visa' });
    if (paid.status !== 'succeeded') throw new Error(`expected success, got ${paid.status}`);
    const refund = await gateway.refund({ orderId: 'order-refund', paymentIntentId: paid.paymentIntentId });
    expect(refund).toMatchObject({ amount: 3000, status: 'succeeded' });
    expect(await gateway.refund({ orderId: 'order-refund', paymentIntentId: paid.paymentIntentId })).toMatchObject({ id: refund.id });
  });

  it('lists PaymentIntents by creation time across pages', async () => {
    const now = Math.floor(Date.now() / 1000);
    const all = await gateway.listPaymentIntents({ from: now - 3600, to: now + 3600 }, 2);
    const ids = new Set(all.map((intent) => intent.id));
    expect(ids.size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(await gateway.listPaymentIntents({ from: now + 3600, to: now + 7200 })).toEqual([]);
  });
});
