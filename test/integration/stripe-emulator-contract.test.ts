import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { CHECKOUT_LOCALES } from '../../src/stripe-emulator/checkout-sessions.js';
import { DEFAULT_API_VERSION } from '../../src/stripe-emulator/objects.js';
import type { RunningEmulator } from '../../src/stripe-emulator/index.js';
import { contractFile, rootOf, useStripeContract, violationsOf } from '../helpers/stripe-contract.js';

const GENERATOR = fileURLToPath(new URL('../../scripts/stripe-emulator-contract.js', import.meta.url));
const contract = useStripeContract();
let emulator: RunningEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, seed: 3, log: createLogger({ level: 'silent' }) });
  stripe = contract.stripe(emulator, 'sk_test_contract');
});
afterAll(() => emulator.close());

describe('the Stripe API contract the emulator is checked against', () => {
  it('is the one the installed SDK gives (regenerated from its type definitions and compared)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [GENERATOR, '--check'], { timeout: 120_000 });
    expect(stdout).toContain('is up to date');
  });

  it('is for the API version the SDK pins, which is the one the emulator speaks', async () => {
    expect(contractFile()['x-stripe'].apiVersion).toBe(Stripe.API_VERSION);
    expect(DEFAULT_API_VERSION).toBe(Stripe.API_VERSION);
    const intent = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    expect(intent.lastResponse.apiVersion).toBe(Stripe.API_VERSION);
  });

  it("offers exactly the pinned version's Checkout locales", () => {
    const locale = contractFile().definitions['Checkout.Session'] as { properties: { locale: { enum: (string | null)[] } } };
    expect([...CHECKOUT_LOCALES].sort()).toEqual(locale.properties.locale.enum.filter((v) => v !== null).sort());
  });

  it('refuses missing properties, unknown properties, values outside the enums and error codes Stripe does not have', async () => {
    const intent = JSON.parse(JSON.stringify(await stripe.paymentIntents.create({ amount: 100, currency: 'usd' }))) as Record<
      string,
      unknown
    >;
    delete intent.lastResponse;
    expect(violationsOf('PaymentIntent', intent)).toEqual([]);

    const { processing: _omitted, ...missing } = intent;
    expect(violationsOf('PaymentIntent', missing)).toEqual([expect.stringContaining("must have required property 'processing'")]);
    expect(violationsOf('PaymentIntent', { ...intent, charges: null })).toEqual([expect.stringContaining('unknown property "charges"')]);
    expect(violationsOf('PaymentIntent', { ...intent, status: 'requires_source' })).toEqual([
      expect.stringMatching(/^\/status must be equal to one of the allowed values/),
    ]);
    expect(violationsOf('PaymentIntent', { ...intent, amount: '100' })).toEqual([expect.stringContaining('/amount must be number')]);
    // A Customer is not emulated: only its id may appear.
    expect(violationsOf('PaymentIntent', { ...intent, customer: { id: 'cus_1', object: 'customer' } })).not.toEqual([]);

    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 500, product_data: { name: 'x' } } }],
    });
    const raw = JSON.parse(JSON.stringify(session)) as Record<string, unknown>;
    delete raw.lastResponse;
    expect(violationsOf('CheckoutSession', raw)).toEqual([]);
    expect(violationsOf('CheckoutSession', { ...raw, ui_mode: 'hosted' })).toEqual([
      expect.stringContaining('/ui_mode must be equal to one of'),
    ]);

    expect(violationsOf('Error', { error: { type: 'invalid_request_error', message: 'x', code: 'parameter_missing' } })).toEqual([]);
    expect(violationsOf('Error', { error: { type: 'invalid_request_error', message: 'x', code: 'parameter_invalid_string' } })).not.toEqual(
      [],
    );
    expect(
      violationsOf('Error', { error: { type: 'invalid_request_error', message: 'x', code: 'checkout_session_unexpected_state' } }),
    ).not.toEqual([]);
  });

  it('checks each event by its type: a payment_intent.succeeded must carry a PaymentIntent', async () => {
    await stripe.paymentIntents.create({ amount: 250, currency: 'eur', payment_method: 'pm_card_visa', confirm: true });
    const { data } = await stripe.events.list({ type: 'payment_intent.succeeded', limit: 1 });
    const event = JSON.parse(JSON.stringify(data[0])) as { data: { object: Record<string, unknown> } };
    expect(rootOf(event)).toBe('Event');
    expect(violationsOf('Event', event)).toEqual([]);
    const charge = await stripe.charges.retrieve(String(event.data.object.latest_charge));
    const wrong = { ...event, data: { object: JSON.parse(JSON.stringify({ ...charge, lastResponse: undefined })) } };
    expect(violationsOf('Event', wrong)).not.toEqual([]);
    expect(violationsOf('Event', { ...event, type: 'customer.created' })).not.toEqual([]);
  });
});
