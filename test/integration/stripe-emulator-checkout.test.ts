import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();
let emulator: RunningEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, log: createLogger({ level: 'silent' }) });
  stripe = contract.stripe(emulator, 'sk_test_checkout');
});
afterAll(() => emulator.close());

async function complete(id: string, outcome: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return contract.fetch(emulator, `/_emulator/checkout/sessions/${id}/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome, ...extra }),
  });
}

function newSession(order: string, extra: Partial<Stripe.Checkout.SessionCreateParams> = {}) {
  return stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [
      { price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'Seat' } }, quantity: 2 },
      { price_data: { currency: 'usd', unit_amount: 1250, product_data: { name: 'Luggage' } }, quantity: 1 },
    ],
    metadata: { order_id: order },
    success_url: 'https://shop.example/success?session={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://shop.example/cancel',
    client_reference_id: `ref-${order}`,
    payment_intent_data: { metadata: { order_id: order, source: 'checkout' } },
    ...extra,
  });
}

/** The events about one object, oldest first. */
async function eventsFor(id: string): Promise<Stripe.Event[]> {
  const all = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
  return all.filter((event) => (event.data.object as { id: string }).id === id).reverse();
}

describe('Checkout Sessions through the official SDK', () => {
  it('create computes amount_total and points url at the emulator; retrieve, list and line_items agree', async () => {
    const session = await newSession('order-create');
    expect(session.id).toMatch(/^cs_test_/);
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_subtotal: 2250,
      amount_total: 2250,
      currency: 'usd',
      metadata: { order_id: 'order-create' },
      client_reference_id: 'ref-order-create',
      success_url: 'https://shop.example/success?session={CHECKOUT_SESSION_ID}',
      payment_intent: null,
      livemode: false,
    });
    expect(session.url).toBe(`${emulator.url}/checkout/${session.id}`);
    expect(await stripe.checkout.sessions.retrieve(session.id)).toMatchObject({ id: session.id, amount_total: 2250 });
    const listed = await stripe.checkout.sessions.list({ limit: 100 });
    expect(listed.data.map((s) => s.id)).toContain(session.id);
    const items = await stripe.checkout.sessions.listLineItems(session.id);
    expect(items.data.map((item) => [item.description, item.quantity, item.amount_total])).toEqual([
      ['Seat', 2, 1000],
      ['Luggage', 1, 1250],
    ]);
    const page = await fetch(session.url as string);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Luggage');
  });

  it('completing with outcome=paid: complete/paid, a succeeded PaymentIntent linked, events sent', async () => {
    const session = await newSession('order-paid');
    const response = await complete(session.id, 'paid');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid' });

    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent', 'payment_intent.latest_charge'] });
    expect(done).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });
    const intent = done.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 2250,
      metadata: { order_id: 'order-paid', source: 'checkout' },
    });
    expect(intent.latest_charge).toMatchObject({ object: 'charge', status: 'succeeded', amount_captured: 2250 });
    expect((await stripe.checkout.sessions.list({ payment_intent: intent.id })).data.map((s) => s.id)).toEqual([session.id]);

    const sessionEvents = await eventsFor(session.id);
    expect(sessionEvents.map((e) => e.type)).toEqual(['checkout.session.completed']);
    expect(sessionEvents[0]?.data.object).toMatchObject({
      metadata: { order_id: 'order-paid' },
      payment_status: 'paid',
      payment_intent: intent.id,
    });
    expect(sessionEvents[0]?.request).toEqual({ id: null, idempotency_key: null });
    expect((await eventsFor(intent.id)).map((e) => e.type)).toEqual(['payment_intent.created', 'payment_intent.succeeded']);

    const again = await complete(session.id, 'paid');
    expect(again.status).toBe(400);
  });

  it('async_succeeded: completed while unpaid, then async_payment_succeeded', async () => {
    const session = await newSession('order-async-ok');
    expect((await complete(session.id, 'async_succeeded')).status).toBe(200);
    const events = await eventsFor(session.id);
    expect(events.map((e) => e.type)).toEqual(['checkout.session.completed', 'checkout.session.async_payment_succeeded']);
    expect(events[0]?.data.object).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
    expect(events[1]?.data.object).toMatchObject({ status: 'complete', payment_status: 'paid', metadata: { order_id: 'order-async-ok' } });
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect((done.payment_intent as Stripe.PaymentIntent).status).toBe('succeeded');
  });

  it('async_failed: completed while unpaid, then async_payment_failed, the PaymentIntent failed', async () => {
    const session = await newSession('order-async-fail');
    expect((await complete(session.id, 'async_failed')).status).toBe(200);
    const events = await eventsFor(session.id);
    expect(events.map((e) => e.type)).toEqual(['checkout.session.completed', 'checkout.session.async_payment_failed']);
    expect(events[1]?.data.object).toMatchObject({ payment_status: 'unpaid', metadata: { order_id: 'order-async-fail' } });
    const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
    expect(done.payment_status).toBe('unpaid');
    const intent = done.payment_intent as Stripe.PaymentIntent;
    expect(intent.status).toBe('requires_payment_method');
    expect((await eventsFor(intent.id)).map((e) => e.type)).toContain('payment_intent.payment_failed');
  });

  it('a delayed settlement arrives after settleAfterMs; the completion body is form-encoded like a browser sends it', async () => {
    const session = await newSession('order-async-later');
    const response = await contract.fetch(emulator, `/_emulator/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=async_succeeded&settleAfterMs=30',
    });
    expect(await response.json()).toMatchObject({ status: 'complete', payment_status: 'unpaid' });
    await expect
      .poll(async () => (await stripe.checkout.sessions.retrieve(session.id)).payment_status, { interval: 10, timeout: 5000 })
      .toBe('paid');
  });

  it('a delayed settlement does nothing once the PaymentIntent was canceled meanwhile', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 800, product_data: { name: 'Ride' } } }],
      success_url: 'https://example.test/ok',
      metadata: { trip_id: 'trip-cancel-before-settle' },
    });
    await contract.fetch(emulator, `/_emulator/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'async_succeeded', settleAfterMs: 200 }),
    });
    const completed = await stripe.checkout.sessions.retrieve(session.id);
    const intentId = typeof completed.payment_intent === 'string' ? completed.payment_intent : completed.payment_intent!.id;
    await stripe.paymentIntents.cancel(intentId);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await stripe.paymentIntents.retrieve(intentId)).status).toBe('canceled');
    const summary = (await (await contract.fetch(emulator, `/_emulator/charges`)).json()) as { byOrder: Record<string, number> };
    expect(summary.byOrder['trip-cancel-before-settle'] ?? 0).toBe(0);
  });

  it('the checkout page buttons redirect to success_url', async () => {
    const session = await newSession('order-redirect');
    const response = await contract.fetch(emulator, `/_emulator/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=paid&redirect=true',
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`https://shop.example/success?session=${session.id}`);
  });

  it('expire: status expired and checkout.session.expired; an expired session cannot be completed or expired again', async () => {
    const session = await newSession('order-expire');
    const expired = await stripe.checkout.sessions.expire(session.id);
    expect(expired).toMatchObject({ status: 'expired', payment_status: 'unpaid', url: null });
    const events = await eventsFor(session.id);
    expect(events.map((e) => e.type)).toEqual(['checkout.session.expired']);
    expect(events[0]?.data.object).toMatchObject({ metadata: { order_id: 'order-expire' } });
    expect(events[0]?.request?.id).toMatch(/^req_/);
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({ statusCode: 400 });
    expect((await complete(session.id, 'paid')).status).toBe(400);
    expect((await stripe.checkout.sessions.list({ status: 'expired' })).data.map((s) => s.id)).toContain(session.id);
  });

  it('validates: mode, line_items, price ids, unknown outcome, unknown session', async () => {
    const base = {
      mode: 'payment' as const,
      line_items: [{ price_data: { currency: 'usd', unit_amount: 100, product_data: { name: 'x' } }, quantity: 1 }],
    };
    await expect(
      stripe.checkout.sessions.create({ ...base, mode: undefined } as unknown as Stripe.Checkout.SessionCreateParams),
    ).rejects.toMatchObject({
      statusCode: 400,
      param: 'mode',
    });
    await expect(stripe.checkout.sessions.create({ mode: 'payment' })).rejects.toMatchObject({ statusCode: 400, param: 'line_items' });
    await expect(
      stripe.checkout.sessions.create({ mode: 'payment', line_items: [{ price: 'price_123', quantity: 1 }] }),
    ).rejects.toMatchObject({
      statusCode: 400,
      param: 'line_items[0][price]',
    });
    await expect(
      stripe.checkout.sessions.create({
        mode: 'payment',
        line_items: [{ price_data: { currency: 'usd', unit_amount: 100, product_data: { name: 'x' } } }],
      }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'line_items[0][quantity]' });
    await expect(stripe.checkout.sessions.create({ ...base, mode: 'subscription' })).rejects.toMatchObject({
      statusCode: 400,
      param: 'mode',
    });
    const session = await stripe.checkout.sessions.create(base);
    expect((await complete(session.id, 'maybe')).status).toBe(400);
    expect((await complete('cs_test_missing', 'paid')).status).toBe(404);
    await expect(stripe.checkout.sessions.retrieve('cs_test_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});
