import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { FormParseError, parseForm } from '../../src/stripe-emulator/form.js';
import type { RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';

const contract = useStripeContract();

describe("Stripe's form encoding", () => {
  it('nests bracketed keys into objects and indexed or empty brackets into arrays', () => {
    expect(
      parseForm(
        'amount=2000&metadata[trip_id]=t%201&metadata[note]=a+b' +
          '&line_items[0][price_data][unit_amount]=500&line_items[0][quantity]=2&line_items[1][quantity]=1' +
          '&expand[]=latest_charge&expand[]=customer&payment_method_types[0]=card',
      ),
    ).toEqual({
      amount: '2000',
      metadata: { trip_id: 't 1', note: 'a b' },
      line_items: [{ price_data: { unit_amount: '500' }, quantity: '2' }, { quantity: '1' }],
      expand: ['latest_charge', 'customer'],
      payment_method_types: ['card'],
    });
    // Percent-encoded brackets, as some clients send them.
    expect(parseForm('metadata%5Border_id%5D=o1')).toEqual({ metadata: { order_id: 'o1' } });
    expect(parseForm('')).toEqual({});
    expect(parseForm('flag')).toEqual({ flag: '' });
  });

  it('refuses what it cannot represent', () => {
    expect(() => parseForm('a=1&a[b]=2')).toThrow(FormParseError);
    expect(() => parseForm('a[b]=1&a=2')).toThrow(FormParseError);
    expect(() => parseForm('__proto__[x]=1')).toThrow(FormParseError);
    expect(() => parseForm('a[b=1')).toThrow(FormParseError);
    expect(() => parseForm('a=%E0%A4%A')).toThrow(FormParseError);
    expect(() => parseForm(`a${'[x]'.repeat(20)}=1`)).toThrow(FormParseError);
  });
});

describe('curl-style requests', () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await contract.startEmulator({ port: 0, log: createLogger({ level: 'silent' }) });
  });
  afterAll(() => emulator.close());

  it('take expand[] and nested metadata, and answer malformed bodies with a Stripe 400', async () => {
    const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
      contract.fetch(emulator, `/v1/payment_intents`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk_test_curl', 'content-type': contentType },
        body,
      });
    const created = await post(
      'amount=100&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[order_id]=c1&expand[]=latest_charge',
    );
    expect(created.status).toBe(200);
    const intent = (await created.json()) as { metadata: unknown; latest_charge: { object: string } };
    expect(intent.metadata).toEqual({ order_id: 'c1' });
    expect(intent.latest_charge.object).toBe('charge');

    const malformed = await post('amount=1&amount[x]=2');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const json = await post('{"amount":100}', 'application/json');
    expect(json.status).toBe(400);
  });
});
