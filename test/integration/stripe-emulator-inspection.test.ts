import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { ChargeReport, RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();

let emulator: RunningEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, log: createLogger({ level: 'silent' }) });
  stripe = contract.stripe(emulator, 'sk_test_inspection');
});
afterAll(() => emulator.close());

async function report(): Promise<ChargeReport> {
  const response = await contract.fetch(emulator, `/_emulator/charges`);
  expect(response.status).toBe(200);
  return (await response.json()) as ChargeReport;
}

const charge = (metadata: Record<string, string>, idempotencyKey: string, paymentMethod = 'pm_card_visa') =>
  stripe.paymentIntents
    .create({ amount: 1000, currency: 'usd', payment_method: paymentMethod, confirm: true, metadata }, { idempotencyKey })
    .catch(() => undefined);

describe('GET /_emulator/charges', () => {
  it('counts successful charges per Idempotency-Key and per order, and names the double charges', async () => {
    await charge({ order_id: 'order-once' }, 'key-once');
    await charge({ order_id: 'order-once' }, 'key-once'); // a replay: no new charge
    await charge({ order_id: 'order-twice' }, 'key-twice-a');
    await charge({ order_id: 'order-twice' }, 'key-twice-b'); // a second key for the same order: charged twice
    await charge({ trip_id: 'trip-7' }, 'key-trip');
    await charge({ order_id: 'order-declined' }, 'key-declined', 'pm_card_chargeDeclined');
    await charge({}, 'key-anonymous');
    const intent = (await stripe.paymentIntents.list({ limit: 10 })).data.find(
      (pi) => pi.metadata.order_id === 'order-once',
    ) as Stripe.PaymentIntent;
    await stripe.refunds.create({ payment_intent: intent.id, amount: 400 });

    const summary = await report();
    expect(summary.byOrder).toMatchObject({ 'order-once': 1, 'order-twice': 2, 'trip-7': 1, 'order-declined': 0 });
    expect(summary.byIdempotencyKey).toMatchObject({ 'key-once': 1, 'key-twice-a': 1, 'key-twice-b': 1, 'key-declined': 0 });
    expect(summary.details.byOrder['order-once']).toMatchObject({
      succeededCharges: 1,
      failedCharges: 0,
      amountCaptured: 1000,
      amountRefunded: 400,
    });
    expect(summary.details.byOrder['order-twice']?.paymentIntents).toHaveLength(2);
    expect(summary.details.byOrder['order-declined']).toMatchObject({ succeededCharges: 0, failedCharges: 1 });
    expect(summary.details.byIdempotencyKey['key-once']).toMatchObject({ succeededCharges: 1, charges: [intent.latest_charge] });
    expect(summary.duplicates).toEqual({ idempotencyKeys: [], orders: ['order-twice'] });
    expect(summary.totals).toEqual({
      paymentIntents: 6,
      charges: 6,
      succeededCharges: 5,
      failedCharges: 1,
      amountCaptured: 5000,
      amountRefunded: 400,
      unattributedCharges: 1,
    });
  });

  it('counts a 3-D Secure payment under the key that confirmed it, and a released authorization not at all', async () => {
    const challenged = await stripe.paymentIntents.create(
      {
        amount: 700,
        currency: 'usd',
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        metadata: { order_id: 'order-3ds' },
      },
      { idempotencyKey: 'key-3ds' },
    );
    expect(challenged.status).toBe('requires_action');
    await contract.fetch(emulator, `/_emulator/payment_intents/${challenged.id}/authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'succeeded' }),
    });
    const held = await stripe.paymentIntents.create(
      {
        amount: 900,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        capture_method: 'manual',
        metadata: { order_id: 'order-released' },
      },
      { idempotencyKey: 'key-released' },
    );
    await stripe.paymentIntents.cancel(held.id);
    const summary = await report();
    expect(summary.byIdempotencyKey['key-3ds']).toBe(1);
    expect(summary.byOrder['order-3ds']).toBe(1);
    expect(summary.byOrder['order-released']).toBe(0);
  });

  it('attributes Checkout payments to the order in the session and to the key that created the session', async () => {
    const session = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [{ price_data: { currency: 'usd', unit_amount: 700, product_data: { name: 'x' } }, quantity: 1 }],
        metadata: { order_id: 'order-checkout' },
      },
      { idempotencyKey: 'key-checkout' },
    );
    await contract.fetch(emulator, `/_emulator/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"outcome":"paid"}',
    });
    const summary = await report();
    expect(summary.byOrder['order-checkout']).toBe(1);
    expect(summary.details.byOrder['order-checkout']).toMatchObject({ amountCaptured: 700 });
    expect(summary.byIdempotencyKey['key-checkout']).toBe(1);
  });

  it('POST /_emulator/reset forgets objects, events and idempotency keys', async () => {
    const before = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'survives-reset?' });
    expect((await contract.fetch(emulator, `/_emulator/reset`, { method: 'POST' })).status).toBe(200);
    expect((await stripe.paymentIntents.list()).data).toEqual([]);
    expect((await stripe.events.list()).data).toEqual([]);
    expect((await report()).totals.charges).toBe(0);
    await expect(stripe.paymentIntents.retrieve(before.id)).rejects.toMatchObject({ statusCode: 404 });
    const after = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'survives-reset?' });
    expect(after.id).not.toBe(before.id);
  });
});
