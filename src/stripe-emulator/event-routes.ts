import type { EmulatorContext } from './context.js';
import { invalidRequest, missingParam, resourceMissing } from './errors.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import { assertKnownParams, optionalBoolean, optionalString, optionalStringArray } from './params.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';

/** `type` takes one wildcard at the end, as Stripe's does: `payment_intent.*`. */
function typeMatcher(pattern: string): (type: string) => boolean {
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    return (type) => type.startsWith(prefix);
  }
  return (type) => type === pattern;
}

export function registerEventRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.get('/v1/events/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand']);
    const event = ctx.store.events.get(path.id as string);
    if (!event) throw resourceMissing('event', path.id as string);
    return event;
  });

  // Stripe CLI's `events resend`: deliver the event again, now, to one of the account's endpoints.
  router.post('/v1/events/:id/retry', ({ params, path }) => {
    assertKnownParams(params, ['webhook_endpoint', 'expand']);
    const event = ctx.store.events.get(path.id as string);
    if (!event) throw resourceMissing('event', path.id as string);
    const endpoint = optionalString(params, 'webhook_endpoint');
    if (endpoint === undefined) throw missingParam('webhook_endpoint');
    if (!ctx.webhookTargets().some((target) => target.id === endpoint)) throw resourceMissing('webhook_endpoint', endpoint);
    ctx.redeliver(event.id, endpoint);
    return event;
  });

  router.get('/v1/events', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'type', 'types', 'delivery_success']);
    const type = optionalString(params, 'type');
    const types = optionalStringArray(params, 'types');
    if (type !== undefined && types !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: type, types.', { param: 'types' });
    }
    if (types && types.length > 20) throw invalidRequest('You may pass at most 20 types.', { param: 'types' });
    const matchers = (types ?? (type === undefined ? [] : [type])).map(typeMatcher);
    // Stripe: true → every webhook delivery succeeded; false → still pending, or failed for good.
    const deliverySuccess = optionalBoolean(params, 'delivery_success');
    const inRange = createdFilter(params);
    const items = newestFirst(ctx.store.events).filter(
      (event) =>
        inRange(event) &&
        (matchers.length === 0 || matchers.some((matches) => matches(event.type))) &&
        (deliverySuccess === undefined || (event.pending_webhooks === 0) === deliverySuccess),
    );
    return paginate(items, params, url, 'event');
  });
}
