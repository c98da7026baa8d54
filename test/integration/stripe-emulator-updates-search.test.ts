import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';
import { rejection } from '../helpers/stripe-errors.js';

const contract = useStripeContract();
let emulator: RunningEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, seed: 7, log: createLogger({ level: 'silent' }) });
  stripe = contract.stripe(emulator, 'sk_test_updates');
});
afterAll(() => emulator.close());

const admin = (path: string, body?: unknown) => contract.admin(emulator, path, body);

/** Events about one object, oldest first. */
async function eventsFor(id: string): Promise<Stripe.Event[]> {
  const all = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
  return all.filter((event) => (event.data.object as { id: string }).id === id).reverse();
}

function newSession(extra: Partial<Stripe.Checkout.SessionCreateParams> = {}) {
  return stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ quantity: 2, price_data: { currency: 'eur', unit_amount: 750, product_data: { name: 'Ticket' } } }],
    metadata: { order_id: 'session-order' },
    ...extra,
  });
}

describe('POST /v1/payment_intents/{id}', () => {
  it('before confirmation: amount, currency, payment_method, metadata, descriptors, receipt_email and shipping change; no event', async () => {
    const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { order_id: 'o-1', keep: 'yes' } });
    const eventsBefore = (await eventsFor(intent.id)).length;
    const updated = await stripe.paymentIntents.update(intent.id, {
      amount: 1500,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      description: 'two seats',
      metadata: { order_id: 'o-1b', keep: '' },
      receipt_email: 'rider@example.com',
      statement_descriptor_suffix: 'SEATS',
      shipping: { name: 'Ada', address: { line1: '1 Main St', city: 'Springfield', country: 'US', postal_code: '12345' } },
    });
    expect(updated).toMatchObject({
      status: 'requires_confirmation',
      amount: 1500,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      description: 'two seats',
      metadata: { order_id: 'o-1b' },
      receipt_email: 'rider@example.com',
      statement_descriptor_suffix: 'SEATS',
      shipping: {
        name: 'Ada',
        address: { line1: '1 Main St', line2: null, city: 'Springfield', country: 'US', postal_code: '12345', state: null },
      },
    });
    expect(await stripe.paymentIntents.retrieve(intent.id)).toMatchObject({ amount: 1500, metadata: { order_id: 'o-1b' } });
    // Stripe has no payment_intent.updated event.
    expect((await eventsFor(intent.id)).length).toBe(eventsBefore);

    const unset = await stripe.paymentIntents.update(intent.id, { receipt_email: '', shipping: '' });
    expect(unset).toMatchObject({ receipt_email: null, shipping: null });
    const paid = await stripe.paymentIntents.confirm(intent.id, { expand: ['latest_charge'] });
    expect(paid.status).toBe('succeeded');
    expect(paid.latest_charge).toMatchObject({
      amount: 1500,
      currency: 'eur',
      statement_descriptor_suffix: 'SEATS',
      description: 'two seats',
    });
  });

  it('after it succeeded only description, metadata and receipt_email change; the rest is payment_intent_unexpected_state', async () => {
    const intent = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const updated = await stripe.paymentIntents.update(intent.id, {
      description: 'refundable',
      metadata: { note: 'vip' },
      receipt_email: 'after@example.com',
    });
    expect(updated).toMatchObject({
      status: 'succeeded',
      description: 'refundable',
      metadata: { note: 'vip' },
      receipt_email: 'after@example.com',
    });

    for (const [params, param] of [
      [{ amount: 2500 }, 'amount'],
      [{ currency: 'eur' }, 'currency'],
      [{ payment_method: 'pm_card_mastercard' }, 'payment_method'],
      [{ statement_descriptor_suffix: 'LATE' }, 'statement_descriptor_suffix'],
    ] as const) {
      const error = await rejection(stripe.paymentIntents.update(intent.id, params));
      expect(error.statusCode).toBe(400);
      expect({ code: error.code, param: error.param }).toEqual({ code: 'payment_intent_unexpected_state', param });
      expect(error.message).toBe(
        `This PaymentIntent's ${param} could not be updated because it has a status of succeeded. ` +
          `You may only update the ${param} of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action.`,
      );
    }
    expect((await stripe.paymentIntents.retrieve(intent.id)).amount).toBe(2000);

    const canceled = await stripe.paymentIntents.cancel((await stripe.paymentIntents.create({ amount: 300, currency: 'usd' })).id);
    expect((await rejection(stripe.paymentIntents.update(canceled.id, { receipt_email: 'x@example.com' }))).param).toBe('receipt_email');
    expect((await stripe.paymentIntents.update(canceled.id, { metadata: '' })).metadata).toEqual({});
  });

  it('changing the amount of one waiting for 3-D Secure asks for a new confirmation', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      payment_method: 'pm_card_threeDSecure2Required',
      confirm: true,
    });
    expect(intent.status).toBe('requires_action');
    const updated = await stripe.paymentIntents.update(intent.id, { amount: 2800 });
    expect(updated).toMatchObject({ status: 'requires_confirmation', amount: 2800, next_action: null });
    const held = await stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
    });
    expect((await rejection(stripe.paymentIntents.update(held.id, { amount: 800 }))).code).toBe('payment_intent_unexpected_state');
    expect((await stripe.paymentIntents.update(held.id, { shipping: { name: 'Bo', address: { country: 'DE' } } })).shipping?.name).toBe(
      'Bo',
    );
  });

  it('refuses unknown parameters, unknown PaymentMethods and unknown PaymentIntents like Stripe', async () => {
    const intent = await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    const unknown = await rejection(
      stripe.paymentIntents.update(intent.id, { confirm: true } as unknown as Stripe.PaymentIntentUpdateParams),
    );
    expect({ code: unknown.code, param: unknown.param }).toEqual({ code: 'parameter_unknown', param: 'confirm' });
    const method = await rejection(stripe.paymentIntents.update(intent.id, { payment_method: 'pm_card_nope' }));
    expect({ code: method.code, param: method.param, status: method.statusCode }).toEqual({
      code: 'resource_missing',
      param: 'payment_method',
      status: 400,
    });
    const missing = await rejection(stripe.paymentIntents.update('pi_missing', { metadata: { a: 'b' } }));
    expect({ code: missing.code, status: missing.statusCode }).toEqual({ code: 'resource_missing', status: 404 });
  });
});

describe('POST /v1/charges/{id} and /v1/refunds/{id}', () => {
  it('a Charge takes metadata, description, receipt_email, shipping and fraud_details; charge.updated has the previous values', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 4000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { order_id: 'charge-update' },
    });
    const chargeId = intent.latest_charge as string;
    const updated = await stripe.charges.update(chargeId, {
      metadata: { shipped: 'yes' },
      description: 'shipped order',
      receipt_email: 'buyer@example.com',
      shipping: { name: 'Cy', address: { line1: '2 Side St', country: 'US' }, tracking_number: 'TRK1' },
      fraud_details: { user_report: 'safe' },
    });
    expect(updated).toMatchObject({
      metadata: { order_id: 'charge-update', shipped: 'yes' },
      description: 'shipped order',
      receipt_email: 'buyer@example.com',
      shipping: { name: 'Cy', tracking_number: 'TRK1' },
      fraud_details: { user_report: 'safe' },
    });
    const [updatedEvent] = (await eventsFor(chargeId)).filter((event) => event.type === 'charge.updated');
    expect(updatedEvent?.data.previous_attributes).toEqual({
      metadata: { order_id: 'charge-update' },
      description: null,
      receipt_email: null,
      shipping: null,
      fraud_details: {},
    });
    const customer = await stripe.charges.update(chargeId, { customer: 'cus_first' });
    expect(customer.customer).toBe('cus_first');
    expect((await rejection(stripe.charges.update(chargeId, { customer: 'cus_second' }))).param).toBe('customer');
    const amount = await rejection(stripe.charges.update(chargeId, { amount: 1 } as unknown as Stripe.ChargeUpdateParams));
    expect(amount.code).toBe('parameter_unknown');
    expect((await rejection(stripe.charges.update('ch_missing', { description: 'x' }))).statusCode).toBe(404);
  });

  it('a Refund takes metadata only; refund.updated has the previous metadata; no change, no event', async () => {
    const intent = await stripe.paymentIntents.create({ amount: 1800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const refund = await stripe.refunds.create({ payment_intent: intent.id, metadata: { ticket: 't-1' } });
    expect(refund).toMatchObject({
      balance_transaction: null,
      customer: null,
      payment_method: 'pm_card_visa',
      receipt_number: null,
      transfer_reversal: null,
    });
    const updated = await stripe.refunds.update(refund.id, { metadata: { ticket: '', reason_detail: 'late' } });
    expect(updated.metadata).toEqual({ reason_detail: 'late' });
    await stripe.refunds.update(refund.id, { metadata: { reason_detail: 'late' } });
    const updates = (await eventsFor(refund.id)).filter((event) => event.type === 'refund.updated');
    expect(updates.map((event) => event.data.previous_attributes)).toEqual([{ metadata: { ticket: 't-1' } }]);
    const amount = await rejection(stripe.refunds.update(refund.id, { amount: 5 } as unknown as Stripe.RefundUpdateParams));
    expect({ code: amount.code, param: amount.param }).toEqual({ code: 'parameter_unknown', param: 'amount' });
  });
});

describe('Checkout Sessions: the whole object, locale, and POST /v1/checkout/sessions/{id}', () => {
  it('answers with every property of the pinned version, ui_mode hosted_page, and customer_details once paid', async () => {
    const session = await newSession({ locale: 'fr', customer_email: 'ada@example.com' });
    expect(session).toMatchObject({
      ui_mode: 'hosted_page',
      locale: 'fr',
      custom_fields: [],
      shipping_options: [],
      automatic_tax: { enabled: false, liability: null, status: null },
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      customer_details: { email: 'ada@example.com' },
      consent: null,
      payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    });
    const items = await stripe.checkout.sessions.listLineItems(session.id);
    expect(items.data[0]?.price).toMatchObject({
      object: 'price',
      active: false,
      billing_scheme: 'per_unit',
      type: 'one_time',
      unit_amount: 750,
    });
    await admin(`/_emulator/checkout/sessions/${session.id}/complete`, { outcome: 'paid' });
    const paid = await stripe.checkout.sessions.retrieve(session.id);
    expect(paid.customer_details).toMatchObject({ email: 'ada@example.com', address: { country: 'US' } });

    const anonymous = await newSession();
    expect(anonymous.customer_details).toBeNull();
    await admin(`/_emulator/checkout/sessions/${anonymous.id}/complete`, { outcome: 'paid' });
    expect((await stripe.checkout.sessions.retrieve(anonymous.id)).customer_details?.email).toEqual(expect.stringContaining('@'));
  });

  it('refuses a locale Stripe does not have', async () => {
    const error = await rejection(newSession({ locale: 'xx' as Stripe.Checkout.SessionCreateParams.Locale }));
    expect({ status: error.statusCode, param: error.param }).toEqual({ status: 400, param: 'locale' });
  });

  it('updates metadata at any time and the shipping details while open; an expired session cannot take shipping details', async () => {
    const session = await newSession();
    const updated = await stripe.checkout.sessions.update(session.id, {
      metadata: { order_id: 'session-order-2', gift: 'yes' },
      collected_information: { shipping_details: { name: 'Dee', address: { line1: '3 High St', country: 'GB', postal_code: 'N1' } } },
    });
    expect(updated.metadata).toEqual({ order_id: 'session-order-2', gift: 'yes' });
    expect(updated.collected_information).toMatchObject({ shipping_details: { name: 'Dee', address: { country: 'GB', city: null } } });
    await stripe.checkout.sessions.expire(session.id);
    expect((await stripe.checkout.sessions.update(session.id, { metadata: { gift: '' } })).metadata).toEqual({
      order_id: 'session-order-2',
    });
    const closed = await rejection(
      stripe.checkout.sessions.update(session.id, {
        collected_information: { shipping_details: { name: 'X', address: { line1: '4 Low St', country: 'US' } } },
      }),
    );
    expect(closed.statusCode).toBe(400);
    const again = await rejection(stripe.checkout.sessions.expire(session.id));
    // Stripe has no error code for a session that is not open.
    expect({ status: again.statusCode, code: again.code }).toEqual({ status: 400, code: undefined });
    const unknown = await rejection(
      stripe.checkout.sessions.update(session.id, { locale: 'de' } as unknown as Stripe.Checkout.SessionUpdateParams),
    );
    expect({ code: unknown.code, param: unknown.param }).toEqual({ code: 'parameter_unknown', param: 'locale' });
    const notEmulated = await rejection(stripe.checkout.sessions.update(session.id, { line_items: [{ id: 'li_1', quantity: 2 }] }));
    expect({ status: notEmulated.statusCode, param: notEmulated.param }).toEqual({ status: 400, param: 'line_items' });
  });
});

describe('GET /v1/payment_intents/search', () => {
  const batch = `batch-${Date.now()}`;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    for (const [order, amount, card] of [
      ['s-1', 500, 'pm_card_visa'],
      ['s-2', 1500, 'pm_card_visa'],
      ['s-3', 2500, 'pm_card_chargeDeclined'],
      ['s-4', 3500, undefined],
      ['s-5', 4500, 'pm_card_visa'],
    ] as const) {
      const params = { amount, currency: 'usd', metadata: { order_id: `${batch}-${order}`, batch } };
      const intent = card
        ? await stripe.paymentIntents
            .create({ ...params, payment_method: card, confirm: true })
            .catch((error: Stripe.errors.StripeCardError) => error.payment_intent as Stripe.PaymentIntent)
        : await stripe.paymentIntents.create(params);
      ids[order] = intent.id;
    }
  });

  const found = async (query: string) => (await stripe.paymentIntents.search({ query, limit: 100 })).data.map((pi) => pi.id);

  it("finds by metadata['order_id'], by status, and by both with AND; newest first", async () => {
    expect(await found(`metadata['order_id']:'${batch}-s-2'`)).toEqual([ids['s-2']]);
    expect(await found(`metadata["order_id"]:"${batch}-s-3"`)).toEqual([ids['s-3']]);
    expect(await found(`status:'succeeded' AND metadata['batch']:'${batch}'`)).toEqual([ids['s-5'], ids['s-2'], ids['s-1']]);
    expect(await found(`status:'requires_payment_method' AND metadata['batch']:'${batch}'`)).toEqual([ids['s-4'], ids['s-3']]);
    expect(await found(`metadata['batch']:'${batch}' AND -status:'succeeded'`)).toEqual([ids['s-4'], ids['s-3']]);
    expect(await found(`metadata['batch']:'${batch}' AND amount>=2500 AND amount<4500`)).toEqual([ids['s-4'], ids['s-3']]);
    expect(await found(`metadata['order_id']:'${batch}-s-1' OR metadata['order_id']:'${batch}-s-5'`)).toEqual([ids['s-5'], ids['s-1']]);
    expect(await found(`metadata['order_id']:'${batch}-nothing'`)).toEqual([]);
  });

  it('answers with a search_result that pages with next_page; the SDK auto-pages it; total_count when expanded', async () => {
    const query = `metadata['batch']:'${batch}'`;
    const first = await stripe.paymentIntents.search({ query, limit: 2 });
    expect(first).toMatchObject({ object: 'search_result', url: '/v1/payment_intents/search', has_more: true });
    expect(first.data.map((pi) => pi.id)).toEqual([ids['s-5'], ids['s-4']]);
    expect(first.next_page).toEqual(expect.any(String));
    const second = await stripe.paymentIntents.search({ query, limit: 2, page: first.next_page as string });
    expect(second.data.map((pi) => pi.id)).toEqual([ids['s-3'], ids['s-2']]);
    const last = await stripe.paymentIntents.search({ query, limit: 2, page: second.next_page as string });
    expect(last).toMatchObject({ has_more: false, next_page: null });
    expect(last.data.map((pi) => pi.id)).toEqual([ids['s-1']]);
    const all = await stripe.paymentIntents.search({ query, limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((pi) => pi.id)).toEqual(['s-5', 's-4', 's-3', 's-2', 's-1'].map((order) => ids[order]));
    const counted = await stripe.paymentIntents.search({ query, limit: 1, expand: ['total_count', 'data.latest_charge'] });
    expect(counted.total_count).toBe(5);
    expect(counted.data[0]?.latest_charge).toMatchObject({ object: 'charge' });
    expect((await stripe.paymentIntents.search({ query })).total_count).toBeUndefined();
  });

  it('refuses malformed queries and pages on the query or page parameter', async () => {
    for (const query of [
      'status:succeeded',
      `status:'succeeded' AND metadata['batch']:'x' OR amount>1`,
      `colour:'red'`,
      'amount>big',
      `status>'a'`,
      'metadata:"x"',
      `status:'succeeded' AND`,
    ]) {
      const error = await rejection(stripe.paymentIntents.search({ query }));
      expect({ status: error.statusCode, param: error.param }, query).toEqual({ status: 400, param: 'query' });
    }
    const missing = await rejection(stripe.paymentIntents.search({} as Stripe.PaymentIntentSearchParams));
    expect({ code: missing.code, param: missing.param }).toEqual({ code: 'parameter_missing', param: 'query' });
    const page = await rejection(stripe.paymentIntents.search({ query: `status:'succeeded'`, page: 'not-a-page' }));
    expect(page.param).toBe('page');
  });
});
