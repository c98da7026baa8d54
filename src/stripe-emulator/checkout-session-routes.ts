import type Stripe from 'stripe';
import {
  CHECKOUT_LOCALES,
  createCheckoutSession,
  expireCheckoutSession,
  getCheckoutSession,
  updateCheckoutSession,
  type NewLineItem,
} from './checkout-sessions.js';
import type { EmulatorContext } from './context.js';
import { invalidRequest, missingParam } from './errors.js';
import { expandList, expandObject } from './expand.js';
import type { FormObject } from './form.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import type { CaptureMethod } from './objects.js';
import {
  address,
  assertKnownParams,
  childPath,
  currency,
  expandPaths,
  field,
  mergeMetadata,
  metadata,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalObjectArray,
  optionalString,
  optionalStringArray,
  requiredInteger,
  requiredString,
} from './params.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';

const CREATE_PARAMS = [
  'mode',
  'line_items',
  'metadata',
  'success_url',
  'cancel_url',
  'client_reference_id',
  'customer',
  'customer_email',
  'payment_intent_data',
  'payment_method_types',
  'expires_at',
  'locale',
  'expand',
] as const;

/** What `POST /v1/checkout/sessions/{id}` takes. */
const UPDATE_PARAMS = ['metadata', 'collected_information', 'expand'] as const;
/** Stripe takes these too, but the emulator has no Prices, shipping rates or changing line items. */
const UPDATES_NOT_EMULATED = ['line_items', 'shipping_options', 'payment_intent_data'] as const;

function shippingDetails(params: FormObject): Stripe.Checkout.Session.CollectedInformation.ShippingDetails | undefined {
  const collected = optionalObject(params, 'collected_information');
  if (!collected) return undefined;
  assertKnownParams(collected, ['shipping_details'], 'collected_information');
  const path = 'collected_information[shipping_details]';
  const details = optionalObject(collected, 'shipping_details', { path });
  if (!details) return undefined;
  assertKnownParams(details, ['name', 'address'], path);
  const shippingAddress = address(details, 'address', { path: childPath(path, 'address') });
  if (!shippingAddress) throw missingParam(childPath(path, 'address'));
  return { name: requiredString(details, 'name', { path: childPath(path, 'name') }), address: shippingAddress };
}

function lineItem(item: FormObject, index: number): NewLineItem {
  const path = `line_items[${index}]`;
  if (item.price !== undefined) {
    throw invalidRequest('The emulator supports line items with price_data only (it has no Prices); pass price_data instead of price.', {
      param: childPath(path, 'price'),
    });
  }
  assertKnownParams(item, ['price_data', 'quantity'], path);
  const pricePath = childPath(path, 'price_data');
  const priceData = optionalObject(item, 'price_data', { path: pricePath });
  if (!priceData) throw missingParam(pricePath);
  assertKnownParams(priceData, ['currency', 'unit_amount', 'product_data'], pricePath);
  const productPath = childPath(pricePath, 'product_data');
  const productData = optionalObject(priceData, 'product_data', { path: productPath });
  if (!productData) throw missingParam(productPath);
  assertKnownParams(productData, ['name', 'description', 'metadata'], productPath);
  return {
    name: requiredString(productData, 'name', { path: childPath(productPath, 'name') }),
    currency: currency(priceData, 'currency', { path: childPath(pricePath, 'currency') }) as string,
    unitAmount: requiredInteger(priceData, 'unit_amount', { path: childPath(pricePath, 'unit_amount'), min: 0, max: 99_999_999 }),
    quantity: requiredInteger(item, 'quantity', { path: childPath(path, 'quantity'), min: 1, max: 999_999 }),
  };
}

export function registerCheckoutSessionRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.post('/v1/checkout/sessions', ({ params, origin }) => {
    assertKnownParams(params, CREATE_PARAMS);
    const mode = requiredString(params, 'mode');
    if (mode !== 'payment') {
      throw invalidRequest(`The emulator supports mode=payment only, got mode=${mode}.`, { param: 'mode' });
    }
    const items = optionalObjectArray(params, 'line_items');
    if (!items || items.length === 0) throw missingParam('line_items');
    const paymentIntentData = optionalObject(params, 'payment_intent_data') ?? {};
    assertKnownParams(paymentIntentData, ['metadata', 'description', 'capture_method'], 'payment_intent_data');
    const expand = expandPaths(params);
    const session = createCheckoutSession(
      ctx,
      {
        lineItems: items.map(lineItem),
        metadata: mergeMetadata({}, metadata(params)),
        successUrl: optionalString(params, 'success_url'),
        cancelUrl: optionalString(params, 'cancel_url'),
        clientReferenceId: optionalString(params, 'client_reference_id', { maxLength: 200 }),
        customer: optionalString(params, 'customer'),
        customerEmail: optionalString(params, 'customer_email'),
        paymentMethodTypes: optionalStringArray(params, 'payment_method_types') ?? ['card'],
        expiresAt: optionalInteger(params, 'expires_at', { min: ctx.clock.nowSeconds() + 1800 }),
        locale: optionalEnum(params, 'locale', CHECKOUT_LOCALES),
        paymentIntentData: {
          metadata: mergeMetadata({}, metadata(paymentIntentData, 'metadata', { path: 'payment_intent_data[metadata]' })),
          description: optionalString(paymentIntentData, 'description', { path: 'payment_intent_data[description]' }),
          captureMethod:
            optionalEnum<CaptureMethod>(paymentIntentData, 'capture_method', ['automatic', 'automatic_async', 'manual'], {
              path: 'payment_intent_data[capture_method]',
            }) ?? 'automatic_async',
        },
      },
      origin,
    );
    return expandObject(ctx, session, expand);
  });

  router.get('/v1/checkout/sessions/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand']);
    return expandObject(ctx, getCheckoutSession(ctx, path.id as string), expandPaths(params));
  });

  router.post('/v1/checkout/sessions/:id', ({ params, path }) => {
    for (const name of UPDATES_NOT_EMULATED) {
      if (field(params, name) !== undefined) {
        const message = `The emulator does not support updating ${name} of a Checkout Session; only metadata and collected_information.`;
        throw invalidRequest(message, { param: name });
      }
    }
    assertKnownParams(params, UPDATE_PARAMS);
    const session = getCheckoutSession(ctx, path.id as string);
    const update = { metadata: metadata(params), shippingDetails: shippingDetails(params) };
    const expand = expandPaths(params);
    return expandObject(ctx, updateCheckoutSession(session, update), expand);
  });

  router.get('/v1/checkout/sessions/:id/line_items', ({ params, path, url }) => {
    assertKnownParams(params, ['limit', 'starting_after', 'ending_before', 'expand']);
    const session = getCheckoutSession(ctx, path.id as string);
    const items = ctx.store.checkoutExtras.get(session.id)?.lineItems ?? [];
    return paginate(items, params, url, 'line_item');
  });

  router.post('/v1/checkout/sessions/:id/expire', ({ params, path, origin }) => {
    assertKnownParams(params, ['expand']);
    const session = getCheckoutSession(ctx, path.id as string);
    const expand = expandPaths(params);
    return expandObject(ctx, expireCheckoutSession(ctx, session, origin), expand);
  });

  router.get('/v1/checkout/sessions', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'payment_intent', 'status', 'customer', 'client_reference_id']);
    const inRange = createdFilter(params);
    const paymentIntent = optionalString(params, 'payment_intent');
    const status = optionalEnum(params, 'status', ['open', 'complete', 'expired']);
    const customer = optionalString(params, 'customer');
    const clientReferenceId = optionalString(params, 'client_reference_id');
    const items = newestFirst(ctx.store.checkoutSessions).filter(
      (session) =>
        inRange(session) &&
        (paymentIntent === undefined || session.payment_intent === paymentIntent) &&
        (status === undefined || session.status === status) &&
        (customer === undefined || session.customer === customer) &&
        (clientReferenceId === undefined || session.client_reference_id === clientReferenceId),
    );
    return expandList(ctx, paginate(items, params, url, 'checkout.session'), expandPaths(params));
  });
}
