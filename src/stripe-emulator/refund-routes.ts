import type { EmulatorContext } from './context.js';
import { resourceMissing } from './errors.js';
import { expandList, expandObject } from './expand.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import { assertKnownParams, expandPaths, mergeMetadata, metadata, optionalEnum, optionalInteger, optionalString } from './params.js';
import { createRefund, REFUND_REASONS } from './refunds.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';

export function registerRefundRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.post('/v1/refunds', ({ params, origin }) => {
    assertKnownParams(params, ['payment_intent', 'charge', 'amount', 'reason', 'metadata', 'expand']);
    const input = {
      paymentIntent: optionalString(params, 'payment_intent'),
      charge: optionalString(params, 'charge'),
      amount: optionalInteger(params, 'amount', { min: 1 }),
      reason: optionalEnum(params, 'reason', REFUND_REASONS),
      metadata: mergeMetadata({}, metadata(params)),
    };
    const expand = expandPaths(params);
    return expandObject(ctx, createRefund(ctx, input, origin), expand);
  });

  router.get('/v1/refunds/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand']);
    const refund = ctx.store.refunds.get(path.id as string);
    if (!refund) throw resourceMissing('refund', path.id as string);
    return expandObject(ctx, refund, expandPaths(params));
  });

  router.get('/v1/refunds', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'payment_intent', 'charge']);
    const inRange = createdFilter(params);
    const paymentIntent = optionalString(params, 'payment_intent');
    const charge = optionalString(params, 'charge');
    const items = newestFirst(ctx.store.refunds).filter(
      (refund) =>
        inRange(refund) &&
        (paymentIntent === undefined || refund.payment_intent === paymentIntent) &&
        (charge === undefined || refund.charge === charge),
    );
    return expandList(ctx, paginate(items, params, url, 'refund'), expandPaths(params));
  });
}
