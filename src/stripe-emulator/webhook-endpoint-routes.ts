import type { EmulatorContext } from './context.js';
import { invalidRequest, missingParam, resourceMissing } from './errors.js';
import { ID_PREFIX, newId, newWebhookSecret } from './ids.js';
import { paginate } from './list.js';
import type { WebhookEndpointObject } from './objects.js';
import { assertKnownParams, mergeMetadata, metadata, optionalBoolean, optionalString, optionalStringArray } from './params.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';
import type { WebhookTarget } from './webhook-delivery.js';

/**
 * Webhook endpoints a running pipeline registers for itself. Like Stripe, the signing secret is
 * in the response to the create call only.
 */

function endpointUrl(value: string | undefined, required: boolean): string | undefined {
  if (value === undefined) {
    if (required) throw missingParam('url');
    return undefined;
  }
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw invalidRequest(`Invalid URL: ${value.slice(0, 200)}. URLs must be http or https.`, { param: 'url', code: 'url_invalid' });
  }
  return value;
}

function enabledEvents(values: string[] | undefined, required: boolean): string[] | undefined {
  if (values === undefined) {
    if (required) throw missingParam('enabled_events');
    return undefined;
  }
  if (values.length === 0) throw missingParam('enabled_events');
  for (const [i, type] of values.entries()) {
    if (!/^(\*|[a-z_]+(\.[a-z_]+)+)$/.test(type)) throw invalidRequest(`Invalid event type: ${type}`, { param: `enabled_events[${i}]` });
  }
  return values;
}

function getEndpoint(ctx: EmulatorContext, id: string): WebhookEndpointObject {
  const endpoint = ctx.store.webhookEndpoints.get(id);
  if (!endpoint) throw resourceMissing('webhook_endpoint', id);
  return endpoint;
}

/** The registered endpoints that receive events now. */
export function registeredTargets(ctx: EmulatorContext): WebhookTarget[] {
  return [...ctx.store.webhookEndpoints.values()]
    .filter((endpoint) => endpoint.status === 'enabled')
    .map((endpoint) => ({
      id: endpoint.id,
      url: endpoint.url,
      secret: ctx.store.webhookSecrets.get(endpoint.id) as string,
      enabledEvents: endpoint.enabled_events,
    }));
}

export function registerWebhookEndpointRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.post('/v1/webhook_endpoints', ({ params }) => {
    assertKnownParams(params, ['url', 'enabled_events', 'description', 'metadata', 'api_version', 'expand']);
    const endpoint: WebhookEndpointObject = {
      id: newId(ID_PREFIX.webhookEndpoint),
      object: 'webhook_endpoint',
      api_version: optionalString(params, 'api_version') ?? null,
      application: null,
      created: ctx.clock.nowSeconds(),
      description: optionalString(params, 'description') ?? null,
      enabled_events: enabledEvents(optionalStringArray(params, 'enabled_events'), true) as string[],
      livemode: false,
      metadata: mergeMetadata({}, metadata(params)),
      status: 'enabled',
      url: endpointUrl(optionalString(params, 'url'), true) as string,
    };
    const secret = newWebhookSecret();
    ctx.store.webhookEndpoints.set(endpoint.id, endpoint);
    ctx.store.webhookSecrets.set(endpoint.id, secret);
    return { ...endpoint, secret };
  });

  router.get('/v1/webhook_endpoints/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand']);
    return getEndpoint(ctx, path.id as string);
  });

  router.post('/v1/webhook_endpoints/:id', ({ params, path }) => {
    assertKnownParams(params, ['url', 'enabled_events', 'description', 'metadata', 'disabled', 'expand']);
    const endpoint = getEndpoint(ctx, path.id as string);
    const url = endpointUrl(optionalString(params, 'url'), false);
    const events = enabledEvents(optionalStringArray(params, 'enabled_events'), false);
    const disabled = optionalBoolean(params, 'disabled');
    const description = optionalString(params, 'description');
    const update = metadata(params);
    if (url) endpoint.url = url;
    if (events) endpoint.enabled_events = events;
    if (disabled !== undefined) endpoint.status = disabled ? 'disabled' : 'enabled';
    if (description !== undefined) endpoint.description = description;
    endpoint.metadata = mergeMetadata(endpoint.metadata, update);
    return endpoint;
  });

  router.delete('/v1/webhook_endpoints/:id', ({ path }) => {
    const endpoint = getEndpoint(ctx, path.id as string);
    ctx.store.webhookEndpoints.delete(endpoint.id);
    ctx.store.webhookSecrets.delete(endpoint.id);
    return { id: endpoint.id, object: 'webhook_endpoint', deleted: true };
  });

  router.get('/v1/webhook_endpoints', ({ params, url }) => {
    assertKnownParams(params, ['limit', 'starting_after', 'ending_before', 'expand']);
    return paginate(newestFirst(ctx.store.webhookEndpoints), params, url, 'webhook_endpoint');
  });
}
