import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { DEFAULT_FAULTS, type ChargeReport, type RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();

let emulator: RunningEmulator;
let stripe: Stripe;
const KEY = 'sk_test_idempotency';

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, log: createLogger({ level: 'silent' }) });
  stripe = contract.stripe(emulator, KEY);
});
afterAll(() => emulator.close());
afterEach(() => emulator.setFaults(DEFAULT_FAULTS));

/** A raw form POST, to see status and headers exactly as sent. */
async function post(
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const response = await contract.fetch(emulator, path, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

async function charges(): Promise<ChargeReport> {
  return (await contract.fetch(emulator, `/_emulator/charges`)).json() as Promise<ChargeReport>;
}

describe('authentication', () => {
  it('401 with Stripe error JSON and a Request-Id without a key, with a bad key, with a live key', async () => {
    for (const authorization of [undefined, 'Bearer nope', 'Bearer sk_live_1234567890abcdef', 'Token sk_test_abc']) {
      const response = await contract.fetch(emulator, `/v1/payment_intents`, { headers: authorization ? { authorization } : {} });
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get('request-id')).toMatch(/^req_/);
      const body = (await response.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).not.toContain('1234567890abcdef');
    }
    const wrong = contract.stripe(emulator, 'sk_live_notallowed');
    const error = await wrong.paymentIntents.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect((error as Stripe.errors.StripeError).statusCode).toBe(401);
  });

  it('accepts any sk_test_ key, as Bearer or as curl -u sk_test_…:', async () => {
    const basic = Buffer.from('sk_test_other:').toString('base64');
    expect((await contract.fetch(emulator, `/v1/payment_intents`, { headers: { authorization: `Basic ${basic}` } })).status).toBe(200);
  });

  it('answers unknown URLs with a Stripe 404, also with a Request-Id', async () => {
    const response = await contract.fetch(emulator, `/v1/nothing_here`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(response.status).toBe(404);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });
});

describe('idempotency', () => {
  const body = 'amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]=idem-1';

  it('the same key and parameters replay the stored response with Idempotent-Replayed: true; one charge only', async () => {
    const first = await post('/v1/payment_intents', body, { 'idempotency-key': 'replay-1' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // Parameter order does not make it a different request.
    const reordered = 'metadata[order_id]=idem-1&currency=usd&confirm=true&payment_method=pm_card_visa&amount=2000';
    const second = await post('/v1/payment_intents', reordered, { 'idempotency-key': 'replay-1' });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('original-request')).toBe(first.headers.get('request-id'));
    expect(second.headers.get('request-id')).not.toBe(first.headers.get('request-id'));
    expect(second.json).toEqual(first.json);
    const report = await charges();
    expect(report.byIdempotencyKey['replay-1']).toBe(1);
    expect(report.byOrder['idem-1']).toBe(1);

    // Through the SDK: the same object comes back.
    const a = await stripe.paymentIntents.create({ amount: 300, currency: 'usd' }, { idempotencyKey: 'replay-sdk' });
    const b = await stripe.paymentIntents.create({ amount: 300, currency: 'usd' }, { idempotencyKey: 'replay-sdk' });
    expect(b.id).toBe(a.id);
    expect((b.lastResponse as unknown as { headers: Record<string, string> }).headers['idempotent-replayed']).toBe('true');
  });

  it('a stored 402 decline is replayed too, without a second attempt', async () => {
    const declined = 'amount=999&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true&metadata[order_id]=idem-decline';
    const first = await post('/v1/payment_intents', declined, { 'idempotency-key': 'decline-1' });
    const second = await post('/v1/payment_intents', declined, { 'idempotency-key': 'decline-1' });
    expect([first.status, second.status]).toEqual([402, 402]);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.json).toEqual(first.json);
    const report = await charges();
    expect(report.byOrder['idem-decline']).toBe(0);
    expect(report.details.byOrder['idem-decline']).toMatchObject({ failedCharges: 1, succeededCharges: 0 });
  });

  it('the same key with different parameters, or on another endpoint, is a 400 idempotency_error', async () => {
    await stripe.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'mismatch-1' });
    const error = await stripe.paymentIntents
      .create({ amount: 101, currency: 'usd' }, { idempotencyKey: 'mismatch-1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError', rawType: 'idempotency_error' });
    const elsewhere = await post('/v1/refunds', 'payment_intent=pi_x', { 'idempotency-key': 'mismatch-1' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.json.error.type).toBe('idempotency_error');
  });

  it('the same key while the first request still runs is a 409 idempotency_key_in_use', async () => {
    // The added latency holds whichever request claims the key first; the other arrives meanwhile.
    emulator.setFaults({ latencyMs: 300 });
    const both = await Promise.all([
      post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': 'busy-1' }),
      post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': 'busy-1' }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const busy = both.find((r) => r.status === 409);
    expect(busy?.json.error.code).toBe('idempotency_key_in_use');
    const winner = both.find((r) => r.status === 200);
    emulator.setFaults({ latencyMs: 0 });
    const third = await post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': 'busy-1' });
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(third.json.id).toBe(winner?.json.id);
    // The SDK treats the 409 as retryable, and its retry then gets the stored response.
    emulator.setFaults({ latencyMs: 300 });
    const sdk = contract.stripe(emulator, KEY, { maxNetworkRetries: 3 });
    const [a, b] = await Promise.all([
      sdk.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'busy-sdk' }),
      sdk.paymentIntents.create({ amount: 100, currency: 'usd' }, { idempotencyKey: 'busy-sdk' }),
    ]);
    expect(a.id).toBe(b.id);
  });

  it('requests that fail validation are not stored: the key can be used again with corrected parameters', async () => {
    const invalid = await post('/v1/payment_intents', 'currency=usd', { 'idempotency-key': 'fix-me' });
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.param).toBe('amount');
    const corrected = await post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': 'fix-me' });
    expect(corrected.status).toBe(200);
    expect(corrected.headers.get('idempotent-replayed')).toBeNull();
    const unauthenticated = await post('/v1/payment_intents', 'amount=100&currency=usd', {
      'idempotency-key': 'auth-first',
      authorization: 'Bearer wrong',
    });
    expect(unauthenticated.status).toBe(401);
    const authenticated = await post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': 'auth-first' });
    expect(authenticated.status).toBe(200);
    expect(authenticated.headers.get('idempotent-replayed')).toBeNull();
  });

  it('keys belong to the account, whatever test key sends them (two workers, or a rotated key, share them)', async () => {
    const mine = await post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': 'shared-key' });
    const theirs = await post('/v1/payment_intents', 'amount=100&currency=usd', {
      'idempotency-key': 'shared-key',
      authorization: 'Bearer sk_test_someoneelse',
    });
    expect(theirs.headers.get('idempotent-replayed')).toBe('true');
    expect(theirs.json.id).toBe(mine.json.id);
  });

  it('an empty Idempotency-Key header is no key: two requests make two objects', async () => {
    const first = await post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': '' });
    const second = await post('/v1/payment_intents', 'amount=100&currency=usd', { 'idempotency-key': '' });
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.json.id).not.toBe(first.json.id);
  });

  it('a replay returns the object as it was first answered, not as it is now', async () => {
    const created = await post(
      '/v1/payment_intents',
      'amount=100&currency=usd&payment_method=pm_card_visa&capture_method=manual&confirm=true',
      {
        'idempotency-key': 'snapshot-key',
      },
    );
    expect(created.json.status).toBe('requires_capture');
    await post(`/v1/payment_intents/${created.json.id}/capture`, '');
    const replay = await post(
      '/v1/payment_intents',
      'amount=100&currency=usd&payment_method=pm_card_visa&capture_method=manual&confirm=true',
      {
        'idempotency-key': 'snapshot-key',
      },
    );
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json.status).toBe('requires_capture');
  });

  it("the SDK's own automatic keys make its retries safe", async () => {
    // Every SDK POST carries an Idempotency-Key (stripe-node-retry-…), which the charge report records.
    const intent = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const key = intent.lastResponse.idempotencyKey as string;
    expect(key).toMatch(/^stripe-node-retry-/);
    expect((await charges()).byIdempotencyKey[key]).toBe(1);
  });
});
