import type { EmulatorContext } from './context.js';
import { expandList, expandObject } from './expand.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import { idOf } from './objects.js';
import { assertKnownParams, expandPaths, mergeMetadata, metadata, optionalEnum, optionalInteger, optionalString } from './params.js';
import { createRefund, getRefund, REFUND_REASONS, updateRefund } from './refunds.js';
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
    return expandObject(ctx, getRefund(ctx, path.id as string), expandPaths(params));
  });

  router.post('/v1/refunds/:id', ({ params, path, origin }) => {
    assertKnownParams(params, ['metadata', 'expand']);
    const refund = getRefund(ctx, path.id as string);
    const update = metadata(params);
    const expand = expandPaths(params);
    return expandObject(ctx, updateRefund(ctx, refund, update, origin), expand);
  });

  router.get('/v1/refunds', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'payment_intent', 'charge']);
    const inRange = createdFilter(params);
    const paymentIntent = optionalString(params, 'payment_intent');
    const charge = optionalString(params, 'charge');
    const items = newestFirst(ctx.store.refunds).filter(
      (refund) =>
        inRange(refund) &&
        (paymentIntent === undefined || idOf(refund.payment_intent) === paymentIntent) &&
        (charge === undefined || idOf(refund.charge) === charge),
    );
    return expandList(ctx, paginate(items, params, url, 'refund'), expandPaths(params));
  });
}
