import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { DEFAULT_FAULTS, type ChargeReport, type FaultConfig, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();
const KEY = 'sk_test_faults';
const silent = createLogger({ level: 'silent' });
let emulator: RunningEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, seed: 2024, log: silent });
  stripe = contract.stripe(emulator, KEY);
});
afterAll(() => emulator.close());
afterEach(() => emulator.setFaults(DEFAULT_FAULTS));

function sdkFor(target: RunningEmulator, options: Partial<Stripe.StripeConfig> = {}): Stripe {
  return contract.stripe(target, KEY, { maxNetworkRetries: 0, ...options });
}

async function call(path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}, target = emulator) {
  const response = await contract.fetch(target, path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded', ...init.headers },
    body: init.body,
  });
  return { status: response.status, headers: response.headers, json: (await response.json()) as any };
}

async function setFaultsOverHttp(faults: Partial<FaultConfig>): Promise<Response> {
  return contract.fetch(emulator, `/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
}

async function intentsWithOrder(order: string): Promise<Stripe.PaymentIntent[]> {
  return (await stripe.paymentIntents.list({ limit: 100 })).data.filter((pi) => pi.metadata.order_id === order);
}

describe('API faults', () => {
  it('latency is added to /v1 responses', async () => {
    emulator.setFaults({ latencyMs: 200, latencyJitterMs: 50 });
    const started = performance.now();
    await stripe.paymentIntents.list({ limit: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
  });

  it('errorRate=1 with 500: api_error, stored under the Idempotency-Key like Stripe stores its 500s', async () => {
    emulator.setFaults({ errorRate: 1, errorStatus: 500 });
    const error = await stripe.paymentIntents
      .create({ amount: 100, currency: 'usd', metadata: { order_id: 'fault-500' } }, { idempotencyKey: 'fault-500' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    emulator.setFaults({ errorRate: 0 });
    const replay = await call('/v1/payment_intents', {
      body: 'amount=100&currency=usd&metadata[order_id]=fault-500',
      headers: { 'idempotency-key': 'fault-500' },
    });
    expect(replay.status).toBe(500);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json.error.type).toBe('api_error');
    expect(await intentsWithOrder('fault-500')).toHaveLength(0);
  });

  it('errorAfterRunRate=1: the 500 comes after the work was done — the charge exists, the client saw a 500', async () => {
    emulator.setFaults({ errorRate: 1, errorStatus: 500, errorAfterRunRate: 1 });
    const error = await stripe.paymentIntents
      .create(
        { amount: 100, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, metadata: { order_id: 'fault-500-after' } },
        { idempotencyKey: 'fault-500-after' },
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 500 });
    emulator.setFaults({ errorRate: 0 });
    const [intent] = await intentsWithOrder('fault-500-after');
    expect(intent).toMatchObject({ status: 'succeeded' });
    const report = (await (await contract.fetch(emulator, `/_emulator/charges`)).json()) as ChargeReport;
    expect(report.byOrder['fault-500-after']).toBe(1);
  });

  it('errorRate=1 with 429: rate_limit with Stripe-Should-Retry: true, not stored', async () => {
    emulator.setFaults({ errorRate: 1, errorStatus: 429 });
    const limited = await call('/v1/payment_intents', { body: 'amount=100&currency=usd', headers: { 'idempotency-key': 'fault-429' } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('stripe-should-retry')).toBe('true');
    expect(limited.json.error.code).toBe('rate_limit');
    const viaSdk = await stripe.paymentIntents.list().catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    emulator.setFaults({ errorRate: 0 });
    const after = await call('/v1/payment_intents', { body: 'amount=100&currency=usd', headers: { 'idempotency-key': 'fault-429' } });
    expect(after.status).toBe(200);
    expect(after.headers.get('idempotent-replayed')).toBeNull();
  });

  it('resetRate=1: the request runs, then the connection is destroyed without a response', async () => {
    emulator.setFaults({ resetRate: 1 });
    await expect(call('/v1/payment_intents', { body: 'amount=100&currency=usd&metadata[order_id]=fault-reset' })).rejects.toThrow();
    emulator.setFaults({ resetRate: 0 });
    expect(await intentsWithOrder('fault-reset')).toHaveLength(1);
  });

  it('timeoutRate=1: the request runs and no answer comes (timeoutMs=0) — the SDK times out', async () => {
    emulator.setFaults({ timeoutRate: 1, timeoutMs: 0 });
    const impatient = sdkFor(emulator, { timeout: 300 });
    const error = await impatient.paymentIntents
      .create({ amount: 100, currency: 'usd', metadata: { order_id: 'fault-timeout' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    emulator.setFaults({ timeoutRate: 0 });
    expect(await intentsWithOrder('fault-timeout')).toHaveLength(1);
  });

  it('timeoutRate=1 with timeoutMs: the answer comes late', async () => {
    emulator.setFaults({ timeoutRate: 1, timeoutMs: 250 });
    const started = performance.now();
    const late = await call('/v1/payment_intents?limit=1');
    expect(late.status).toBe(200);
    expect(late.json.object).toBe('list');
    expect(late.headers.get('request-id')).toMatch(/^req_/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(245);
  });

  it("refuseOrders answers 429 to the listed orders' requests only, until cleared", async () => {
    const sdk = sdkFor(emulator);
    emulator.setFaults({ refuseOrders: ['refused-order', 'refused-trip'] });
    const create = (order: string) =>
      sdk.paymentIntents.create({ amount: 700, currency: 'usd', metadata: { order_id: order } }, { idempotencyKey: `refuse-${order}` });
    const refused = await create('refused-order').catch((e: unknown) => e);
    expect(refused).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    expect((refused as { headers: Record<string, string> }).headers['stripe-should-retry']).toBe('true');
    const session = await sdk.checkout.sessions
      .create({
        mode: 'payment',
        success_url: 'https://example.test/ok',
        line_items: [{ price_data: { currency: 'usd', unit_amount: 900, product_data: { name: 'ride' } }, quantity: 1 }],
        metadata: { trip_id: 'refused-trip' },
      })
      .catch((e: unknown) => e);
    expect(session).toMatchObject({ statusCode: 429 });
    expect((await create('served-order')).status).toBe('requires_payment_method');
    expect(await intentsWithOrder('refused-order')).toEqual([]);

    // Cleared: the same request, same key, goes through (a 429 is never stored).
    emulator.setFaults({ refuseOrders: [] });
    expect((await create('refused-order')).metadata.order_id).toBe('refused-order');
  });

  it('faults never apply to /_emulator endpoints', async () => {
    emulator.setFaults({ errorRate: 1, resetRate: 1, timeoutRate: 1 });
    for (let i = 0; i < 5; i++) {
      expect((await contract.fetch(emulator, `/_emulator/faults`)).status).toBe(200);
      expect((await contract.fetch(emulator, `/_emulator/charges`)).status).toBe(200);
    }
  });

  it('POST /_emulator/faults changes the knobs while running; GET reads them; bad input is a 400', async () => {
    const changed = await setFaultsOverHttp({ errorRate: 1, errorStatus: 429 });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toEqual({ ...DEFAULT_FAULTS, errorRate: 1, errorStatus: 429 });
    expect(await (await contract.fetch(emulator, `/_emulator/faults`)).json()).toMatchObject({ errorRate: 1, errorStatus: 429 });
    expect((await call('/v1/payment_intents')).status).toBe(429);
    for (const bad of [{ errorRate: 2 }, { errorStatus: 503 }, { latencyMs: -1 }, { nonsense: true }]) {
      const response = await setFaultsOverHttp(bad as Partial<FaultConfig>);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain('invalid fault configuration');
    }
    expect(() => emulator.setFaults({ resetRate: -0.5 })).toThrow(/invalid fault configuration/);
  });

  it('the same seed gives the same faults for the same request sequence', async () => {
    const faults: Partial<FaultConfig> = { errorRate: 0.3, errorStatus: 429, resetRate: 0.2 };
    const run = async (seed: number) => {
      const target = await contract.startEmulator({ port: 0, seed, faults, log: silent });
      const outcomes: string[] = [];
      try {
        for (let i = 0; i < 30; i++) {
          outcomes.push(
            await call('/v1/payment_intents?limit=1', {}, target).then(
              (r) => String(r.status),
              () => 'reset',
            ),
          );
        }
      } finally {
        await target.close();
      }
      return outcomes;
    };
    const first = await run(7);
    expect(first).toContain('429');
    expect(first).toContain('reset');
    expect(first).toContain('200');
    expect(await run(7)).toEqual(first);
    expect(await run(8)).not.toEqual(first);
  });

  it("the SDK's retries ride out resets through its idempotency keys: nobody is charged twice", async () => {
    // Its own emulator and seed, so the fault sequence does not depend on the tests above.
    const target = await contract.startEmulator({ port: 0, seed: 11, faults: { resetRate: 0.5 }, log: silent });
    try {
      const persistent = sdkFor(target, { maxNetworkRetries: 8 });
      const orders = ['sdk-retry-1', 'sdk-retry-2', 'sdk-retry-3', 'sdk-retry-4'];
      let replayed = 0;
      for (const order of orders) {
        const intent = await persistent.paymentIntents.create({
          amount: 1500,
          currency: 'usd',
          payment_method: 'pm_card_visa',
          confirm: true,
          metadata: { order_id: order },
        });
        expect(intent.status).toBe('succeeded');
        if ((intent.lastResponse as unknown as { headers: Record<string, string> }).headers['idempotent-replayed'] === 'true') replayed++;
      }
      // A reset comes after the request ran: the SDK's retry got the stored response, not a second charge.
      expect(replayed).toBeGreaterThan(0);
      const report = (await (await contract.fetch(target, `/_emulator/charges`)).json()) as ChargeReport;
      for (const order of orders) expect(report.byOrder[order], order).toBe(1);
      expect(report.totals.succeededCharges).toBe(orders.length);
      expect(report.duplicates).toEqual({ idempotencyKeys: [], orders: [] });
    } finally {
      await target.close();
    }
  });
});
