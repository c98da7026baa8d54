import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { RunningEmulator } from '../../src/stripe-emulator/index.js';
import { useStripeContract } from '../helpers/stripe-contract.js';
import { rejection } from '../helpers/stripe-errors.js';

const contract = useStripeContract();
let emulator: RunningEmulator;
let stripe: Stripe;

beforeAll(async () => {
  emulator = await contract.startEmulator({ port: 0, seed: 1, log: createLogger({ level: 'silent' }) });
  stripe = contract.stripe(emulator, 'sk_test_paymentintents');
});
afterAll(() => emulator.close());

const admin = (path: string, body?: unknown) => contract.admin(emulator, path, body);

describe('PaymentIntents through the official SDK', () => {
  it('pm_card_visa with confirm=true succeeds with a captured charge, metadata carried, latest_charge expandable', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 2599,
      currency: 'USD',
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { order_id: 'order-visa', trip_id: 'trip-1' },
      customer: 'cus_123',
      description: 'a ride',
      expand: ['latest_charge'],
    });
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'succeeded',
      amount: 2599,
      amount_received: 2599,
      currency: 'usd',
      capture_method: 'automatic_async',
      customer: 'cus_123',
      description: 'a ride',
      livemode: false,
      metadata: { order_id: 'order-visa', trip_id: 'trip-1' },
      payment_method: 'pm_card_visa',
    });
    expect(intent.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(intent.client_secret).toMatch(new RegExp(`^${intent.id}_secret_`));
    expect(Number.isInteger(intent.created)).toBe(true);
    expect(Math.abs(intent.created - Date.now() / 1000)).toBeLessThan(60);
    expect(intent.lastResponse.requestId).toMatch(/^req_/);
    const charge = intent.latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({
      object: 'charge',
      status: 'succeeded',
      paid: true,
      captured: true,
      amount: 2599,
      amount_captured: 2599,
      payment_intent: intent.id,
    });
    expect(charge.id).toMatch(/^ch_/);
    expect(charge.metadata).toEqual({ order_id: 'order-visa', trip_id: 'trip-1' });

    const again = await stripe.paymentIntents.retrieve(intent.id);
    expect(again.latest_charge).toBe(charge.id);
    expect((await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge'] })).latest_charge).toMatchObject({ id: charge.id });
    expect(await stripe.charges.retrieve(charge.id)).toMatchObject({ id: charge.id, amount: 2599 });
  });

  it('pm_card_mastercard succeeds too', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 1000,
      currency: 'eur',
      payment_method: 'pm_card_mastercard',
      confirm: true,
    });
    expect(intent.status).toBe('succeeded');
    const charge = await stripe.charges.retrieve(intent.latest_charge as string);
    expect(charge.payment_method_details?.card?.brand).toBe('mastercard');
  });

  // Stripe's testing page: error code and decline code of each declining test PaymentMethod ("n/a" → none).
  const declines = [
    ['pm_card_visa_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_visa_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_visa_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
    ['pm_card_chargeDeclinedLostCard', 'card_declined', 'lost_card'],
    ['pm_card_visa_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
    ['pm_card_chargeDeclinedStolenCard', 'card_declined', 'stolen_card'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', undefined],
    ['pm_card_chargeDeclinedIncorrectCvc', 'incorrect_cvc', undefined],
    ['pm_card_chargeDeclinedProcessingError', 'processing_error', undefined],
    ['pm_card_visa_chargeDeclinedVelocityLimitExceeded', 'card_declined', 'card_velocity_exceeded'],
    ['pm_card_chargeCustomerFail', 'card_declined', 'generic_decline'],
    ['pm_card_radarBlock', 'card_declined', 'fraudulent'],
  ] as const;

  it.each(declines)('%s → 402 card_error %s / %s, PaymentIntent left requires_payment_method', async (paymentMethod, code, declineCode) => {
    const error = await rejection(
      stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: paymentMethod,
        confirm: true,
        metadata: { order_id: `order-${paymentMethod}` },
      }),
    );
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error.statusCode).toBe(402);
    expect(error.type).toBe('StripeCardError');
    expect(error.raw).toMatchObject({ type: 'card_error', code });
    expect((error.raw as { decline_code?: string }).decline_code).toBe(declineCode);
    expect(error.code).toBe(code);
    expect(error.decline_code || undefined).toBe(declineCode); // the SDK makes a missing one ""
    expect(error.message.length).toBeGreaterThan(0);
    expect(error.requestId).toMatch(/^req_/);
    const intent = error.payment_intent as Stripe.PaymentIntent;
    expect(intent).toMatchObject({
      object: 'payment_intent',
      status: 'requires_payment_method',
      metadata: { order_id: `order-${paymentMethod}` },
    });
    expect(intent.last_payment_error).toMatchObject({ type: 'card_error', code });
    expect(intent.last_payment_error?.decline_code).toBe(declineCode);

    const stored = await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge'] });
    expect(stored.status).toBe('requires_payment_method');
    expect(stored.last_payment_error?.code).toBe(code);
    expect(stored.latest_charge).toMatchObject({ status: 'failed', paid: false, failure_code: code, receipt_url: null });
    const outcome = (stored.latest_charge as Stripe.Charge).outcome;
    if (paymentMethod === 'pm_card_radarBlock') {
      expect(outcome).toMatchObject({ type: 'blocked', network_status: 'not_sent_to_network', risk_level: 'highest' });
    } else {
      expect(outcome).toMatchObject({ type: 'issuer_declined', network_status: 'declined_by_network', network_decline_code: null });
    }
  });

  // Stripe's testing page: the brand test PaymentMethods.
  const brands = [
    ['pm_card_visa', 'visa', 'credit', '4242'],
    ['pm_card_visa_debit', 'visa', 'debit', '5556'],
    ['pm_card_mastercard', 'mastercard', 'credit', '4444'],
    ['pm_card_mastercard_debit', 'mastercard', 'debit', '8210'],
    ['pm_card_mastercard_prepaid', 'mastercard', 'prepaid', '5100'],
    ['pm_card_amex', 'amex', 'credit', '8431'],
    ['pm_card_discover', 'discover', 'credit', '1117'],
    ['pm_card_diners', 'diners', 'credit', '0004'],
    ['pm_card_jcb', 'jcb', 'credit', '0505'],
    ['pm_card_unionpay', 'unionpay', 'credit', '0005'],
    ['pm_card_riskLevelElevated', 'visa', 'credit', '9235'],
    ['pm_card_threeDSecureOptional', 'visa', 'credit', '3055'],
    ['pm_card_amex_threeDSecureNotSupported', 'amex', 'credit', '0005'],
  ] as const;

  it.each(brands)('%s pays: a %s %s card ending %s on the Charge and the PaymentMethod', async (paymentMethod, brand, funding, last4) => {
    const intent = await stripe.paymentIntents.create({
      amount: 1200,
      currency: 'usd',
      payment_method: paymentMethod,
      confirm: true,
      expand: ['latest_charge', 'payment_method'],
    });
    expect(intent.status).toBe('succeeded');
    const charge = intent.latest_charge as Stripe.Charge;
    expect(charge.payment_method_details?.card).toMatchObject({ brand, funding, last4, three_d_secure: null, network: brand });
    expect(charge.billing_details).toEqual({
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: null,
      name: null,
      phone: null,
      tax_id: null,
    });
    expect(charge.receipt_url).toMatch(new RegExp(`/receipts/${charge.id}$`));
    expect((await fetch(charge.receipt_url as string)).status).toBe(200);
    expect(intent.payment_method).toMatchObject({
      id: paymentMethod,
      object: 'payment_method',
      type: 'card',
      card: { brand, funding, last4 },
    });
    expect((intent.payment_method as Stripe.PaymentMethod).card?.three_d_secure_usage?.supported).toBe(
      paymentMethod !== 'pm_card_amex_threeDSecureNotSupported',
    );
  });

  it('statement_descriptor_suffix is kept and shown on the Charge after the account descriptor', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 990,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      statement_descriptor_suffix: 'ORDER 42',
      expand: ['latest_charge'],
    });
    expect(intent.statement_descriptor_suffix).toBe('ORDER 42');
    expect(intent.latest_charge).toMatchObject({
      statement_descriptor_suffix: 'ORDER 42',
      calculated_statement_descriptor: 'STRIPE EMU* ORDER 42',
    });
  });

  it('a declined PaymentIntent can be confirmed again with a good card', async () => {
    const error = await rejection(
      stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }),
    );
    const retried = await stripe.paymentIntents.confirm((error.payment_intent as Stripe.PaymentIntent).id, {
      payment_method: 'pm_card_visa',
    });
    expect(retried.status).toBe('succeeded');
    expect(retried.last_payment_error).toBeNull();
  });

  it('create without confirm, then confirm; confirming a succeeded PaymentIntent is refused', async () => {
    const created = await stripe.paymentIntents.create({ amount: 500, currency: 'usd' });
    expect(created.status).toBe('requires_payment_method');
    const withMethod = await stripe.paymentIntents.create({ amount: 500, currency: 'usd', payment_method: 'pm_card_visa' });
    expect(withMethod.status).toBe('requires_confirmation');
    const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
    expect(confirmed.status).toBe('succeeded');
    const error = await rejection(stripe.paymentIntents.confirm(created.id));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('payment_intent_unexpected_state');
    const missing = await rejection(
      stripe.paymentIntents.confirm((await stripe.paymentIntents.create({ amount: 500, currency: 'usd' })).id),
    );
    expect(missing.statusCode).toBe(400);
    expect(missing.param).toBe('payment_method');
  });

  it('pm_card_threeDSecure2Required: 3-D Secure first, then a Charge that records the authentication', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 4100,
      currency: 'usd',
      payment_method: 'pm_card_threeDSecure2Required',
      confirm: true,
    });
    expect(intent.status).toBe('requires_action');
    const authenticated = (await admin(`/_emulator/payment_intents/${intent.id}/authenticate`, {
      outcome: 'succeeded',
    })) as Stripe.PaymentIntent;
    expect(authenticated.status).toBe('succeeded');
    const charge = await stripe.charges.retrieve(authenticated.latest_charge as string);
    expect(charge.payment_method_details?.card?.three_d_secure).toMatchObject({
      result: 'authenticated',
      authentication_flow: 'challenge',
    });
  });

  it('pm_card_threeDSecureRequiredChargeDeclined: authenticated, then declined with card_declined', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 4200,
      currency: 'usd',
      payment_method: 'pm_card_threeDSecureRequiredChargeDeclined',
      confirm: true,
    });
    expect(intent.status).toBe('requires_action');
    const after = (await admin(`/_emulator/payment_intents/${intent.id}/authenticate`, { outcome: 'succeeded' })) as Stripe.PaymentIntent;
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error).toMatchObject({ code: 'card_declined', decline_code: 'generic_decline' });
    const charge = await stripe.charges.retrieve(after.latest_charge as string);
    expect(charge).toMatchObject({ status: 'failed', failure_code: 'card_declined' });
    expect(charge.payment_method_details?.card?.three_d_secure?.result).toBe('authenticated');
  });

  it('pm_card_authenticationRequired → requires_action with use_stripe_sdk; finishing 3-D Secure succeeds; off-session it declines', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    expect(intent.status).toBe('requires_action');
    expect(intent.next_action?.type).toBe('use_stripe_sdk');
    expect(intent.latest_charge).toBeNull();
    const events = await stripe.events.list({ type: 'payment_intent.requires_action', limit: 100 });
    expect(events.data.some((event) => (event.data.object as Stripe.PaymentIntent).id === intent.id)).toBe(true);

    const authenticated = (await admin(`/_emulator/payment_intents/${intent.id}/authenticate`, {
      outcome: 'succeeded',
    })) as Stripe.PaymentIntent;
    expect(authenticated.status).toBe('succeeded');
    expect((await stripe.paymentIntents.retrieve(intent.id)).latest_charge).toMatch(/^ch_/);

    const failing = await stripe.paymentIntents.create({
      amount: 3000,
      currency: 'usd',
      payment_method: 'pm_card_authenticationRequired',
      confirm: true,
    });
    const failed = (await admin(`/_emulator/payment_intents/${failing.id}/authenticate`, { outcome: 'failed' })) as Stripe.PaymentIntent;
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error?.code).toBe('payment_intent_authentication_failure');

    const offSession = await rejection(
      stripe.paymentIntents.create({
        amount: 3000,
        currency: 'usd',
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        off_session: true,
      }),
    );
    expect(offSession.statusCode).toBe(402);
    expect(offSession.code).toBe('authentication_required');
  });

  it('manual capture: requires_capture with an uncaptured charge, then a partial capture succeeds', async () => {
    const intent = await stripe.paymentIntents.create({
      amount: 5000,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
    });
    expect(intent).toMatchObject({ status: 'requires_capture', amount_capturable: 5000, amount_received: 0, capture_method: 'manual' });
    expect(await stripe.charges.retrieve(intent.latest_charge as string)).toMatchObject({
      captured: false,
      amount_captured: 0,
      status: 'succeeded',
    });

    const tooMuch = await rejection(stripe.paymentIntents.capture(intent.id, { amount_to_capture: 6000 }));
    expect(tooMuch.statusCode).toBe(400);
    expect(tooMuch.param).toBe('amount_to_capture');

    const captured = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 4000 });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 4000, amount_capturable: 0 });
    expect(await stripe.charges.retrieve(intent.latest_charge as string)).toMatchObject({
      captured: true,
      amount_captured: 4000,
      amount_refunded: 1000,
    });
    const types = (await stripe.events.list({ limit: 100 })).data
      .filter((event) => (event.data.object as { id: string }).id === intent.id)
      .map((event) => event.type)
      .reverse();
    expect(types).toEqual(['payment_intent.created', 'payment_intent.amount_capturable_updated', 'payment_intent.succeeded']);

    const again = await rejection(stripe.paymentIntents.capture(intent.id));
    expect(again.code).toBe('payment_intent_unexpected_state');
  });

  it('cancel: an unconfirmed PaymentIntent, an authorized one (hold released); a succeeded one cannot be canceled', async () => {
    const pending = await stripe.paymentIntents.create({ amount: 800, currency: 'usd' });
    const canceled = await stripe.paymentIntents.cancel(pending.id, { cancellation_reason: 'requested_by_customer' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'requested_by_customer' });
    expect(canceled.canceled_at).toEqual(expect.any(Number));

    const held = await stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      capture_method: 'manual',
    });
    await stripe.paymentIntents.cancel(held.id);
    expect(await stripe.charges.retrieve(held.latest_charge as string)).toMatchObject({
      refunded: true,
      amount_refunded: 900,
      captured: false,
    });

    const succeeded = await stripe.paymentIntents.create({ amount: 900, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const error = await rejection(stripe.paymentIntents.cancel(succeeded.id));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('payment_intent_unexpected_state');
  });

  it('validates parameters like Stripe: 400 naming the param', async () => {
    // Stripe has codes for some problems only; where it has none, neither has the emulator.
    const cases: [Record<string, unknown>, string, string | undefined][] = [
      [{ currency: 'usd' }, 'amount', 'parameter_missing'],
      [{ amount: 0, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
      [{ amount: -5, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
      [{ amount: 12.5, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
      [{ amount: 100 }, 'currency', 'parameter_missing'],
      [{ amount: 100, currency: '' }, 'currency', 'parameter_invalid_empty'],
      [{ amount: 100, currency: 'dollars' }, 'currency', undefined],
      [{ amount: 100, currency: 'usd', capture_method: 'later' }, 'capture_method', undefined],
      [{ amount: 100, currency: 'usd', confirm: 'maybe' }, 'confirm', undefined],
      [{ amount: 100, currency: 'usd', metadata: 'order' }, 'metadata', undefined],
      [{ amount: 100, currency: 'usd', colour: 'red' }, 'colour', 'parameter_unknown'],
      [{ amount: 100, currency: 'usd', payment_method: 'pm_card_nonsense' }, 'payment_method', 'resource_missing'],
      [{ amount: 100, currency: 'usd', statement_descriptor_suffix: 'x'.repeat(23) }, 'statement_descriptor_suffix', undefined],
      [{ amount: 100, currency: 'usd', statement_descriptor_suffix: '12345' }, 'statement_descriptor_suffix', undefined],
    ];
    for (const [params, param, code] of cases) {
      const error = await rejection(stripe.paymentIntents.create(params as unknown as Stripe.PaymentIntentCreateParams));
      expect(error, JSON.stringify(params)).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.statusCode).toBe(400);
      expect({ param: error.param, code: error.code }).toEqual({ param, code });
    }
    const missing = await rejection(stripe.paymentIntents.retrieve('pi_doesnotexist'));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('resource_missing');
    const badExpand = await rejection(stripe.paymentIntents.create({ amount: 100, currency: 'usd', expand: ['customer_balance'] }));
    expect(badExpand.param).toBe('expand');
  });

  it('lists newest first with limit, starting_after, ending_before, auto-pagination and expand[]=data.latest_charge', async () => {
    const customer = 'cus_listing';
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await stripe.paymentIntents.create({ amount: 100 + i, currency: 'usd', customer, payment_method: 'pm_card_visa', confirm: true }))
          .id,
      );
    }
    const newest = [...ids].reverse();
    const first = await stripe.paymentIntents.list({ customer, limit: 2 });
    expect(first).toMatchObject({ object: 'list', has_more: true, url: '/v1/payment_intents' });
    expect(first.data.map((pi) => pi.id)).toEqual(newest.slice(0, 2));
    const second = await stripe.paymentIntents.list({ customer, limit: 2, starting_after: newest[1] });
    expect(second.data.map((pi) => pi.id)).toEqual(newest.slice(2, 4));
    const last = await stripe.paymentIntents.list({ customer, limit: 2, starting_after: newest[3] });
    expect(last.data.map((pi) => pi.id)).toEqual(newest.slice(4));
    expect(last.has_more).toBe(false);
    const before = await stripe.paymentIntents.list({ customer, limit: 2, ending_before: newest[3] });
    expect(before.data.map((pi) => pi.id)).toEqual(newest.slice(1, 3));
    expect(before.has_more).toBe(true);
    expect((await stripe.paymentIntents.list({ customer, limit: 2 }).autoPagingToArray({ limit: 100 })).map((pi) => pi.id)).toEqual(newest);
    const expanded = await stripe.paymentIntents.list({ customer, limit: 1, expand: ['data.latest_charge'] });
    expect(expanded.data[0]?.latest_charge).toMatchObject({ object: 'charge', payment_intent: newest[0] });
    const badCursor = await rejection(stripe.paymentIntents.list({ starting_after: 'pi_missing' }));
    expect(badCursor.param).toBe('starting_after');
    const badLimit = await rejection(stripe.paymentIntents.list({ limit: 101 }));
    expect(badLimit.param).toBe('limit');
  });

  it('filters lists by created[gte|gt|lte|lt] and exact created', async () => {
    const customer = 'cus_created';
    const early = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', customer });
    // Move the emulator's clock instead of sleeping: the next object is created 100 s later.
    await admin('/_emulator/clock', { advanceSeconds: 100 });
    const late = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', customer });
    expect(late.created - early.created).toBeGreaterThanOrEqual(100);
    const ids = async (created: Stripe.RangeQueryParam | number) =>
      (await stripe.paymentIntents.list({ customer, created })).data.map((pi) => pi.id);
    expect(await ids({ gte: late.created })).toEqual([late.id]);
    expect(await ids({ gt: early.created })).toEqual([late.id]);
    expect(await ids({ lt: late.created })).toEqual([early.id]);
    expect(await ids({ lte: early.created })).toEqual([early.id]);
    expect(await ids({ gte: early.created, lte: late.created })).toEqual([late.id, early.id]);
    expect(await ids(early.created)).toEqual([early.id]);
    expect(await ids({ gt: late.created })).toEqual([]);
    const bad = await rejection(stripe.paymentIntents.list({ created: { gte: 'yesterday' as unknown as number } }));
    expect(bad.param).toBe('created[gte]');
  });
});
