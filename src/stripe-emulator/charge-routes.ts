import { getCharge, updateCharge } from './charges.js';
import type { EmulatorContext } from './context.js';
import { expandList, expandObject } from './expand.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import { idOf } from './objects.js';
import { assertKnownParams, expandPaths, metadata, optionalEnum, optionalObject, optionalString, shipping } from './params.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';

/** Charges are made by PaymentIntents; the API reads them and updates what Stripe lets it. */
export function registerChargeRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.get('/v1/charges/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand']);
    return expandObject(ctx, getCharge(ctx, path.id as string), expandPaths(params));
  });

  router.post('/v1/charges/:id', ({ params, path, origin }) => {
    assertKnownParams(params, [
      'customer',
      'description',
      'metadata',
      'receipt_email',
      'shipping',
      'fraud_details',
      'transfer_group',
      'expand',
    ]);
    const charge = getCharge(ctx, path.id as string);
    const fraud = optionalObject(params, 'fraud_details');
    if (fraud) assertKnownParams(fraud, ['user_report'], 'fraud_details');
    const userReport = fraud && optionalEnum(fraud, 'user_report', ['fraudulent', 'safe'] as const, { path: 'fraud_details[user_report]' });
    const update = {
      customer: optionalString(params, 'customer'),
      description: optionalString(params, 'description'),
      metadata: metadata(params),
      receiptEmail: optionalString(params, 'receipt_email'),
      shipping: shipping(params),
      fraudDetails: userReport ? { user_report: userReport } : undefined,
      transferGroup: optionalString(params, 'transfer_group'),
    };
    const expand = expandPaths(params);
    return expandObject(ctx, updateCharge(ctx, charge, update, origin), expand);
  });

  router.get('/v1/charges', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'payment_intent', 'customer']);
    const inRange = createdFilter(params);
    const paymentIntent = optionalString(params, 'payment_intent');
    const customer = optionalString(params, 'customer');
    const items = newestFirst(ctx.store.charges).filter(
      (charge) =>
        inRange(charge) &&
        (paymentIntent === undefined || idOf(charge.payment_intent) === paymentIntent) &&
        (customer === undefined || idOf(charge.customer) === customer),
    );
    return expandList(ctx, paginate(items, params, url, 'charge'), expandPaths(params));
  });
}
