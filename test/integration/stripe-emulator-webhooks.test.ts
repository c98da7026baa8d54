import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { DEFAULT_FAULTS, type DeliveryRecord, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: records every POST; `answer` picks the status per request. */
let received: Received[] = [];
let answer: (delivery: Received) => number = () => 200;
let receiver: Server;
let receiverUrl: string;
let emulator: RunningEmulator;
let stripe: Stripe;
const SECRET = 'whsec_test_webhooks_secret';

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const delivery = { path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(delivery);
      contract.check(JSON.parse(delivery.body), `webhook to ${delivery.path}`);
      response.writeHead(answer(delivery)).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  emulator = await contract.startEmulator({
    port: 0,
    seed: 99,
    webhookUrls: [`${receiverUrl}/hooks`],
    webhookSecret: SECRET,
    webhookRetry: { initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 3 },
    log: createLogger({ level: 'silent' }),
  });
  stripe = contract.stripe(emulator, 'sk_test_webhooks');
});
afterAll(async () => {
  await emulator.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});
beforeEach(() => {
  received = [];
  answer = () => 200;
});
afterEach(() => emulator.setFaults(DEFAULT_FAULTS));

/** Verifies with the SDK's own code, not the emulator's. */
function verify(delivery: Received, secret = SECRET): Stripe.Event {
  return stripe.webhooks.constructEvent(delivery.body, delivery.headers['stripe-signature'] as string, secret);
}

async function deliveries(): Promise<DeliveryRecord[]> {
  return ((await (await contract.fetch(emulator, `/_emulator/webhooks`)).json()) as { deliveries: DeliveryRecord[] }).deliveries;
}

async function eventIdsSince(count: number): Promise<string[]> {
  return (await stripe.events.list({ limit: count })).data.map((e) => e.id).reverse();
}

/**
 * The deliveries about one order (every event here carries the order in its object's metadata),
 * so a late delivery from an earlier test cannot be mistaken for one of this test's.
 */
function about(order: string, path = '/hooks'): Received[] {
  return received.filter((d) => d.path === path && orderIn(d) === order);
}

function orderIn(delivery: Received): string | undefined {
  return (JSON.parse(delivery.body) as { data: { object: { metadata?: Record<string, string> } } }).data.object.metadata?.order_id;
}

const pay = (order: string) =>
  stripe.paymentIntents.create({
    amount: 1000,
    currency: 'usd',
    payment_method: 'pm_card_visa',
    confirm: true,
    metadata: { order_id: order },
  });

describe('webhook delivery', () => {
  it('POSTs each event, in order, signed so that stripe.webhooks.constructEvent accepts it', async () => {
    const intent = await pay('hook-1');
    await expect.poll(() => received.length, { interval: 10, timeout: 5000 }).toBe(3);
    const events = received.map((delivery) => verify(delivery));
    expect(events.map((e) => e.type)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    expect(events.map((e) => e.id)).toEqual(await eventIdsSince(3));
    expect((events[2]?.data.object as Stripe.PaymentIntent).id).toBe(intent.id);
    expect(received[0]?.path).toBe('/hooks');
    expect(received[0]?.headers['content-type']).toContain('application/json');
    expect(received[0]?.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    // A wrong secret or a tampered body fails the SDK's check.
    expect(() => verify(received[0] as Received, 'whsec_wrong')).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(() =>
      verify({ ...(received[0] as Received), body: (received[0] as Received).body.replace('payment_intent', 'payment_intenT') }),
    ).toThrow();
    await expect
      .poll(async () => (await stripe.events.retrieve(events[2]?.id as string)).pending_webhooks, { interval: 10, timeout: 5000 })
      .toBe(0);
  });

  it('retries a delivery the receiver answered 500, then records success', async () => {
    let failedOnce = false;
    answer = (delivery) => {
      if (orderIn(delivery) !== 'hook-retry' || failedOnce) return 200;
      failedOnce = true;
      return 500;
    };
    await stripe.paymentIntents.create({ amount: 100, currency: 'usd', metadata: { order_id: 'hook-retry' } });
    await expect.poll(() => about('hook-retry').length, { interval: 10, timeout: 5000 }).toBe(2);
    const [first, second] = about('hook-retry').map((delivery) => verify(delivery));
    expect(second?.id).toBe(first?.id);
    await expect
      .poll(async () => (await deliveries()).find((d) => d.event === first?.id), { interval: 10, timeout: 5000 })
      .toMatchObject({
        status: 'delivered',
        attempts: 2,
        lastStatusCode: 200,
      });
    expect((await stripe.events.list({ delivery_success: true, limit: 1 })).data[0]?.id).toBe(first?.id);
  });

  it('retries after a network error too, and gives up after maxAttempts (delivery_success=false)', async () => {
    const endpoint = await stripe.webhookEndpoints.create({
      url: 'http://127.0.0.1:1/unreachable',
      enabled_events: ['payment_intent.canceled'],
    });
    const intent = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    await stripe.paymentIntents.cancel(intent.id);
    const canceled = (await stripe.events.list({ type: 'payment_intent.canceled', limit: 1 })).data[0] as Stripe.Event;
    await expect
      .poll(async () => (await deliveries()).find((d) => d.event === canceled.id && d.endpoint === endpoint.id)?.status, {
        interval: 10,
        timeout: 5000,
      })
      .toBe('failed');
    const record = (await deliveries()).find((d) => d.event === canceled.id && d.endpoint === endpoint.id);
    expect(record?.attempts).toBe(3);
    expect(record?.lastError).toContain('fetch failed');
    expect((await stripe.events.list({ delivery_success: false, limit: 100 })).data.map((e) => e.id)).toContain(canceled.id);
    await stripe.webhookEndpoints.del(endpoint.id);
  });
});

describe('webhook endpoints API', () => {
  it('create returns a secret that signs deliveries; enabled_events filters; update, list, delete', async () => {
    const endpoint = await stripe.webhookEndpoints.create({
      url: `${receiverUrl}/registered`,
      enabled_events: ['payment_intent.succeeded'],
      description: 'pipeline',
    });
    expect(endpoint).toMatchObject({
      object: 'webhook_endpoint',
      status: 'enabled',
      enabled_events: ['payment_intent.succeeded'],
      url: `${receiverUrl}/registered`,
    });
    expect(endpoint.id).toMatch(/^we_/);
    expect(endpoint.secret).toMatch(/^whsec_/);
    const retrieved = await stripe.webhookEndpoints.retrieve(endpoint.id);
    expect(retrieved.secret).toBeUndefined();
    expect((await stripe.webhookEndpoints.list()).data.map((e) => e.id)).toContain(endpoint.id);

    await pay('hook-registered');
    await expect.poll(() => about('hook-registered', '/registered').length, { interval: 10, timeout: 5000 }).toBe(1);
    const registered = about('hook-registered', '/registered')[0] as Received;
    expect(verify(registered, endpoint.secret).type).toBe('payment_intent.succeeded');
    expect(() => verify(registered, SECRET)).toThrow();

    expect((await stripe.webhookEndpoints.update(endpoint.id, { disabled: true })).status).toBe('disabled');
    await pay('hook-disabled');
    await expect.poll(() => about('hook-disabled').length, { interval: 10, timeout: 5000 }).toBe(3);
    expect(about('hook-disabled', '/registered')).toHaveLength(0);

    expect(await stripe.webhookEndpoints.del(endpoint.id)).toMatchObject({ id: endpoint.id, deleted: true });
    await expect(stripe.webhookEndpoints.retrieve(endpoint.id)).rejects.toMatchObject({ statusCode: 404 });
    await expect(stripe.webhookEndpoints.create({ url: 'ftp://nope', enabled_events: ['*'] })).rejects.toMatchObject({
      statusCode: 400,
      param: 'url',
    });
    await expect(stripe.webhookEndpoints.create({ url: `${receiverUrl}/x` } as Stripe.WebhookEndpointCreateParams)).rejects.toMatchObject({
      statusCode: 400,
      param: 'enabled_events',
    });
  });
});

describe('webhook faults', () => {
  it('dropRate=1: nothing is sent, the events stay delivery_success=false', async () => {
    emulator.setFaults({ dropRate: 1 });
    await pay('hook-drop');
    const ids = await eventIdsSince(3);
    await expect
      .poll(async () => (await deliveries()).filter((d) => ids.includes(d.event)).map((d) => d.status), { interval: 10, timeout: 5000 })
      .toEqual(['dropped', 'dropped', 'dropped']);
    // Give a wrongly sent delivery the chance to arrive before asserting that none did.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(about('hook-drop')).toHaveLength(0);
    const pending = (await stripe.events.list({ delivery_success: false, limit: 100 })).data.map((e) => e.id);
    expect(ids.every((id) => pending.includes(id))).toBe(true);
  });

  it('duplicateRate=1: every event arrives twice, each copy validly signed', async () => {
    emulator.setFaults({ duplicateRate: 1 });
    await pay('hook-duplicate');
    await expect.poll(() => about('hook-duplicate').length, { interval: 10, timeout: 5000 }).toBe(6);
    const ids = about('hook-duplicate').map((delivery) => verify(delivery).id);
    expect(new Set(ids).size).toBe(3);
    for (const id of new Set(ids)) expect(ids.filter((x) => x === id)).toHaveLength(2);
  });

  it('reorder: events arrive out of creation order, all of them', async () => {
    emulator.setFaults({ reorder: true, reorderWindow: 6 });
    await pay('hook-reorder-1');
    await pay('hook-reorder-2');
    const created = await eventIdsSince(6);
    const ours = () => received.filter((d) => ['hook-reorder-1', 'hook-reorder-2'].includes(orderIn(d) as string));
    await expect.poll(() => ours().length, { interval: 10, timeout: 5000 }).toBe(6);
    const arrived = ours().map((delivery) => verify(delivery).id);
    expect(new Set(arrived)).toEqual(new Set(created));
    expect(arrived).not.toEqual(created);
  });
});
