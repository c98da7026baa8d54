import type { EmulatorContext } from './context.js';
import { resourceMissing } from './errors.js';
import { expandList, expandObject } from './expand.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import { assertKnownParams, expandPaths, optionalString } from './params.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';

/** Charges are made by PaymentIntents; the API only reads them. */
export function registerChargeRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.get('/v1/charges/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand']);
    const charge = ctx.store.charges.get(path.id as string);
    if (!charge) throw resourceMissing('charge', path.id as string);
    return expandObject(ctx, charge, expandPaths(params));
  });

  router.get('/v1/charges', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'payment_intent', 'customer']);
    const inRange = createdFilter(params);
    const paymentIntent = optionalString(params, 'payment_intent');
    const customer = optionalString(params, 'customer');
    const items = newestFirst(ctx.store.charges).filter(
      (charge) =>
        inRange(charge) &&
        (paymentIntent === undefined || charge.payment_intent === paymentIntent) &&
        (customer === undefined || charge.customer === customer),
    );
    return expandList(ctx, paginate(items, params, url, 'charge'), expandPaths(params));
  });
}
