import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { DeliveryRecord, RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();

let emulator: RunningEmulator;
let stripe: Stripe;
/** answers 200 to every delivery, or 500 to those whose path is /fail */
let receiver: Server;
let receiverUrl: string;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      contract.check(JSON.parse(Buffer.concat(chunks).toString('utf8')), `webhook to ${request.url}`);
      response.writeHead(request.url === '/fail' ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  emulator = await contract.startEmulator({
    port: 0,
    webhookUrls: [`${receiverUrl}/ok`],
    webhookRetry: { initialDelayMs: 5, maxAttempts: 2 },
    log: createLogger({ level: 'silent' }),
  });
  stripe = contract.stripe(emulator, 'sk_test_refunds');
});
afterAll(async () => {
  await emulator.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

const paid = (amount: number, order: string) =>
  stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: order } });

describe('Refunds through the official SDK', () => {
  it('a full refund by payment_intent: charge.refunded carries the refunded Charge', async () => {
    const intent = await paid(4200, 'refund-full');
    const refund = await stripe.refunds.create({ payment_intent: intent.id, reason: 'requested_by_customer', metadata: { ticket: 't1' } });
    expect(refund).toMatchObject({
      object: 'refund',
      amount: 4200,
      currency: 'usd',
      status: 'succeeded',
      payment_intent: intent.id,
      charge: intent.latest_charge,
      reason: 'requested_by_customer',
      metadata: { ticket: 't1' },
    });
    expect(refund.id).toMatch(/^re_/);
    expect(await stripe.refunds.retrieve(refund.id)).toMatchObject({ id: refund.id, amount: 4200 });
    const event = (await stripe.events.list({ type: 'charge.refunded', limit: 1 })).data[0];
    expect(event?.data.object).toMatchObject({ id: intent.latest_charge, object: 'charge', refunded: true, amount_refunded: 4200 });
    const again = stripe.refunds.create({ payment_intent: intent.id });
    await expect(again).rejects.toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
  });

  it('partial refunds add up; refunding more than is left is a 400 on amount', async () => {
    const intent = await paid(5000, 'refund-partial');
    await stripe.refunds.create({ payment_intent: intent.id, amount: 1000 });
    const second = await stripe.refunds.create({ charge: intent.latest_charge as string, amount: 1500 });
    expect(second.amount).toBe(1500);
    expect(await stripe.charges.retrieve(intent.latest_charge as string)).toMatchObject({ refunded: false, amount_refunded: 2500 });
    const event = (await stripe.events.list({ type: 'charge.refunded', limit: 1 })).data[0];
    expect(event?.data.object).toMatchObject({ refunded: false, amount_refunded: 2500 });

    await expect(stripe.refunds.create({ payment_intent: intent.id, amount: 2501 })).rejects.toMatchObject({
      statusCode: 400,
      type: 'StripeInvalidRequestError',
      param: 'amount',
      code: 'amount_too_large',
    });
    const rest = await stripe.refunds.create({ payment_intent: intent.id });
    expect(rest.amount).toBe(2500);
    expect(await stripe.charges.retrieve(intent.latest_charge as string)).toMatchObject({ refunded: true, amount_refunded: 5000 });
    const listed = await stripe.refunds.list({ payment_intent: intent.id });
    expect(listed.data.map((r) => r.amount)).toEqual([2500, 1500, 1000]);
  });

  it('refuses refunds of declined, uncaptured, or unknown payments', async () => {
    const declined = await stripe.paymentIntents
      .create({ amount: 100, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true })
      .catch((error: Stripe.errors.StripeCardError) => error.payment_intent as Stripe.PaymentIntent);
    await expect(stripe.refunds.create({ payment_intent: declined.id })).rejects.toMatchObject({
      statusCode: 400,
      param: 'payment_intent',
    });
    const held = await stripe.paymentIntents.create({
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
    });
    await expect(stripe.refunds.create({ payment_intent: held.id })).rejects.toMatchObject({
      statusCode: 400,
      code: 'charge_not_refundable',
    });
    await expect(stripe.refunds.create({ payment_intent: 'pi_missing' })).rejects.toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
    });
    await expect(stripe.refunds.create({})).rejects.toMatchObject({ statusCode: 400 });
    await expect(stripe.refunds.retrieve('re_missing')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('Events through the official SDK', () => {
  it('every state change is an Event with Stripe fields; retrieve by id', async () => {
    const intent = await stripe.paymentIntents.create(
      { amount: 1234, currency: 'usd', payment_method: 'pm_card_visa', confirm: true },
      { idempotencyKey: 'events-shape-key' },
    );
    const listed = await stripe.events.list({ limit: 3 });
    expect(listed.data.map((e) => e.type)).toEqual(['payment_intent.succeeded', 'charge.succeeded', 'payment_intent.created']);
    const event = listed.data[0] as Stripe.Event;
    expect(event.id).toMatch(/^evt_/);
    expect(event).toMatchObject({
      object: 'event',
      livemode: false,
      type: 'payment_intent.succeeded',
      request: { idempotency_key: 'events-shape-key' },
      data: { object: { id: intent.id, status: 'succeeded' } },
    });
    expect(event.request?.id).toMatch(/^req_/);
    expect(event.api_version).toEqual(expect.any(String));
    expect(event.pending_webhooks).toEqual(expect.any(Number));
    expect(await stripe.events.retrieve(event.id)).toMatchObject({ id: event.id, type: event.type });
    await expect(stripe.events.retrieve('evt_missing')).rejects.toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('filters by type, types[], a wildcard, and created; paginates', async () => {
    await paid(100, 'events-filter');
    const types = async (params: Stripe.EventListParams) =>
      new Set((await stripe.events.list({ limit: 100, ...params })).data.map((e) => e.type));
    expect(await types({ type: 'charge.succeeded' })).toEqual(new Set(['charge.succeeded']));
    expect(await types({ types: ['charge.succeeded', 'payment_intent.created'] })).toEqual(
      new Set(['charge.succeeded', 'payment_intent.created']),
    );
    const wildcard = await types({ type: 'payment_intent.*' });
    expect([...wildcard].every((t) => t.startsWith('payment_intent.'))).toBe(true);
    expect(wildcard.has('payment_intent.succeeded')).toBe(true);

    const before = (await stripe.events.list({ limit: 1 })).data[0] as Stripe.Event;
    await contract.fetch(emulator, `/_emulator/clock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"advanceSeconds":50}',
    });
    await paid(100, 'events-later');
    const later = await stripe.events.list({ created: { gt: before.created }, limit: 100 });
    expect(later.data.map((e) => e.type)).toEqual(['payment_intent.succeeded', 'charge.succeeded', 'payment_intent.created']);
    const older = await stripe.events.list({ created: { lte: before.created }, limit: 100 });
    expect(older.data.map((e) => e.id)).toContain(before.id);

    const page1 = await stripe.events.list({ limit: 2 });
    const page2 = await stripe.events.list({ limit: 2, starting_after: page1.data[1]?.id });
    expect(page1.has_more).toBe(true);
    expect(page2.data[0]?.created).toBeLessThanOrEqual(page1.data[1]?.created as number);
    const all = await stripe.events.list({ limit: 7 }).autoPagingToArray({ limit: 10_000 });
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
  });

  it('delivery_success=true lists events every endpoint got; false lists those still pending or failed', async () => {
    // A second endpoint that fails for refund.created only: those events never succeed.
    const failing = await stripe.webhookEndpoints.create({ url: `${receiverUrl}/fail`, enabled_events: ['refund.created'] });
    const intent = await paid(900, 'events-delivery');
    await stripe.refunds.create({ payment_intent: intent.id });
    const refundEvent = (await stripe.events.list({ type: 'refund.created', limit: 1 })).data[0] as Stripe.Event;
    const succeededEvent = (await stripe.events.list({ type: 'payment_intent.succeeded', limit: 1 })).data[0] as Stripe.Event;
    await expect
      .poll(async () => (await stripe.events.list({ delivery_success: true, limit: 100 })).data.map((e) => e.id), {
        interval: 10,
        timeout: 5000,
      })
      .toContain(succeededEvent.id);
    const refundDeliveryStatus = async () => {
      const { deliveries } = (await (await contract.fetch(emulator, `/_emulator/webhooks`)).json()) as { deliveries: DeliveryRecord[] };
      return deliveries.find((d) => d.event === refundEvent.id && d.endpoint === failing.id)?.status;
    };
    await expect.poll(refundDeliveryStatus, { interval: 10, timeout: 5000 }).toBe('failed');
    const failed = (await stripe.events.list({ delivery_success: false, limit: 100 })).data.map((e) => e.id);
    expect(failed).toContain(refundEvent.id);
    expect(failed).not.toContain(succeededEvent.id);
    expect((await stripe.events.retrieve(refundEvent.id)).pending_webhooks).toBe(1);
    expect((await stripe.events.retrieve(succeededEvent.id)).pending_webhooks).toBe(0);
    await stripe.webhookEndpoints.del(failing.id);
  });

  it('POST /v1/events/:id/retry delivers an event again to one endpoint and books the outcome; unknown ids are 404', async () => {
    const intent = await paid(700, 'events-retry');
    await stripe.refunds.create({ payment_intent: intent.id });
    const event = (await stripe.events.list({ type: 'refund.created', limit: 1 })).data[0] as Stripe.Event;
    // Registered after the event: only a retry can bring it there.
    const later = await stripe.webhookEndpoints.create({ url: `${receiverUrl}/ok-later`, enabled_events: ['refund.created'] });
    const failing = await stripe.webhookEndpoints.create({ url: `${receiverUrl}/fail`, enabled_events: ['refund.created'] });
    const record = async (endpoint: string) => {
      const { deliveries } = (await (await contract.fetch(emulator, `/_emulator/webhooks`)).json()) as { deliveries: DeliveryRecord[] };
      return deliveries.find((d) => d.event === event.id && d.endpoint === endpoint);
    };
    expect(await record(later.id)).toBeUndefined();

    const retried = (await stripe.rawRequest('POST', `/v1/events/${event.id}/retry`, { webhook_endpoint: later.id })) as Stripe.Event;
    expect(retried.id).toBe(event.id);
    await expect.poll(async () => (await record(later.id))?.status, { interval: 10, timeout: 5000 }).toBe('delivered');
    expect((await record(later.id))?.lastStatusCode).toBe(200);

    await stripe.rawRequest('POST', `/v1/events/${event.id}/retry`, { webhook_endpoint: failing.id });
    await expect.poll(async () => (await record(failing.id))?.status, { interval: 10, timeout: 5000 }).toBe('failed');
    expect((await record(failing.id))?.lastStatusCode).toBe(500);
    expect((await stripe.events.list({ delivery_success: false, limit: 100 })).data.map((e) => e.id)).toContain(event.id);

    const refused = async (path: string, params: Record<string, string>) =>
      stripe.rawRequest('POST', path, params).then(
        () => undefined,
        (error: { statusCode?: number; raw?: { param?: string; code?: string } }) => ({ status: error.statusCode, code: error.raw?.code }),
      );
    expect(await refused('/v1/events/evt_nope/retry', { webhook_endpoint: later.id })).toEqual({ status: 404, code: 'resource_missing' });
    expect(await refused(`/v1/events/${event.id}/retry`, { webhook_endpoint: 'we_nope' })).toEqual({
      status: 404,
      code: 'resource_missing',
    });
    expect(await refused(`/v1/events/${event.id}/retry`, {})).toEqual({ status: 400, code: 'parameter_missing' });
    await stripe.webhookEndpoints.del(later.id);
    await stripe.webhookEndpoints.del(failing.id);
  });
});
