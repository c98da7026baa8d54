import type Stripe from 'stripe';
import type { EmulatorContext } from './context.js';
import { invalidRequest, missingParam } from './errors.js';
import { expandList, expandObject } from './expand.js';
import type { FormObject } from './form.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import type { CaptureMethod, PaymentIntentObject } from './objects.js';
import {
  assertKnownParams,
  currency,
  descriptorSuffix,
  expandPaths,
  field,
  mergeMetadata,
  metadata,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalString,
  optionalStringArray,
  requiredInteger,
  shipping,
  unsettableString,
} from './params.js';
import {
  cancelPaymentIntent,
  CANCELLATION_REASONS,
  capturePaymentIntent,
  confirmPaymentIntent,
  createPaymentIntent,
  getPaymentIntent,
  requireTestCard,
  updatePaymentIntent,
} from './payment-intents.js';
import type { ApiRouter } from './router.js';
import { searchMatcher, searchPage, searchQuery, type SearchField } from './search.js';
import { newestFirst } from './store.js';

/** Stripe's ceiling for one payment, in minor units. */
const MAX_AMOUNT = 99_999_999;
const CAPTURE_METHODS: readonly CaptureMethod[] = ['automatic', 'automatic_async', 'manual'];
const SETUP_FUTURE_USAGE = ['off_session', 'on_session'] as const;

/** What `POST /v1/payment_intents/{id}` takes. */
const UPDATE_PARAMS = [
  'amount',
  'currency',
  'payment_method',
  'payment_method_types',
  'capture_method',
  'customer',
  'description',
  'metadata',
  'receipt_email',
  'setup_future_usage',
  'shipping',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_group',
  'expand',
] as const;

const CREATE_PARAMS = [...UPDATE_PARAMS, 'confirm', 'automatic_payment_methods', 'off_session', 'return_url'] as const;

/** What PaymentIntent search can filter on (besides metadata), as in Stripe. */
const SEARCH_FIELDS: Record<string, SearchField<PaymentIntentObject>> = {
  amount: { kind: 'number', read: (pi) => pi.amount },
  created: { kind: 'number', read: (pi) => pi.created },
  currency: { kind: 'string', read: (pi) => pi.currency },
  customer: { kind: 'string', read: (pi) => (typeof pi.customer === 'string' ? pi.customer : (pi.customer?.id ?? null)) },
  status: { kind: 'string', read: (pi) => pi.status },
};

function automaticPaymentMethods(params: FormObject): Stripe.PaymentIntent.AutomaticPaymentMethods | undefined {
  const value = optionalObject(params, 'automatic_payment_methods');
  if (!value) return undefined;
  assertKnownParams(value, ['enabled', 'allow_redirects'], 'automatic_payment_methods');
  const enabled = optionalBoolean(value, 'enabled', { path: 'automatic_payment_methods[enabled]' });
  if (enabled === undefined) throw missingParam('automatic_payment_methods[enabled]');
  const allowRedirects = optionalEnum(value, 'allow_redirects', ['always', 'never'] as const, {
    path: 'automatic_payment_methods[allow_redirects]',
  });
  return { enabled, ...(enabled ? { allow_redirects: allowRedirects ?? 'always' } : {}) };
}

function amountParam(params: FormObject, required: boolean): number | undefined {
  return required
    ? requiredInteger(params, 'amount', { min: 1, max: MAX_AMOUNT })
    : optionalInteger(params, 'amount', { min: 1, max: MAX_AMOUNT });
}

export function registerPaymentIntentRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.post('/v1/payment_intents', ({ params, origin }) => {
    assertKnownParams(params, CREATE_PARAMS);
    const amount = amountParam(params, true) as number;
    const currencyCode = currency(params, 'currency') as string;
    const paymentMethod = optionalString(params, 'payment_method');
    // Validate everything before creating anything: a 400 must leave no trace.
    if (paymentMethod) requireTestCard(paymentMethod);
    const confirm = optionalBoolean(params, 'confirm') ?? false;
    const offSession = optionalBoolean(params, 'off_session');
    const automatic = automaticPaymentMethods(params);
    const types = optionalStringArray(params, 'payment_method_types');
    if (automatic?.enabled && types) {
      throw invalidRequest('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.', {
        param: 'payment_method_types',
      });
    }
    optionalString(params, 'return_url');
    const expand = expandPaths(params);
    const intent = createPaymentIntent(
      ctx,
      {
        amount,
        currency: currencyCode,
        paymentMethod,
        metadata: mergeMetadata({}, metadata(params)),
        customer: optionalString(params, 'customer'),
        captureMethod: optionalEnum(params, 'capture_method', CAPTURE_METHODS) ?? 'automatic_async',
        description: optionalString(params, 'description'),
        paymentMethodTypes: types ?? ['card'],
        automaticPaymentMethods: automatic,
        receiptEmail: optionalString(params, 'receipt_email'),
        setupFutureUsage: optionalEnum(params, 'setup_future_usage', SETUP_FUTURE_USAGE),
        shipping: shipping(params) ?? undefined,
        statementDescriptor: optionalString(params, 'statement_descriptor', { maxLength: 22 }),
        statementDescriptorSuffix: descriptorSuffix(params),
        transferGroup: optionalString(params, 'transfer_group'),
      },
      origin,
    );
    if (confirm) confirmPaymentIntent(ctx, intent, { offSession }, origin);
    return expandObject(ctx, intent, expand);
  });

  // Registered before /:id, which would otherwise take "search" for an id.
  router.get('/v1/payment_intents/search', ({ params, url }) => {
    assertKnownParams(params, ['query', 'limit', 'page', 'expand']);
    const matches = searchMatcher(searchQuery(params), SEARCH_FIELDS, 'payment_intents');
    const expand = expandPaths(params);
    const withTotalCount = expand.includes('total_count');
    const result = searchPage(newestFirst(ctx.store.paymentIntents), matches, params, url, withTotalCount);
    return expandList(
      ctx,
      result,
      expand.filter((path) => path !== 'total_count'),
    );
  });

  router.get('/v1/payment_intents/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand', 'client_secret']);
    return expandObject(ctx, getPaymentIntent(ctx, path.id as string), expandPaths(params));
  });

  router.post('/v1/payment_intents/:id', ({ params, path }) => {
    assertKnownParams(params, UPDATE_PARAMS);
    const intent = getPaymentIntent(ctx, path.id as string);
    const update = {
      amount: amountParam(params, false),
      currency: currency(params, 'currency', { required: false }),
      paymentMethod: optionalString(params, 'payment_method'),
      paymentMethodTypes: optionalStringArray(params, 'payment_method_types'),
      captureMethod: optionalEnum(params, 'capture_method', CAPTURE_METHODS),
      customer: optionalString(params, 'customer'),
      description: optionalString(params, 'description'),
      metadata: metadata(params),
      receiptEmail: unsettableString(params, 'receipt_email'),
      setupFutureUsage: field(params, 'setup_future_usage') === '' ? null : optionalEnum(params, 'setup_future_usage', SETUP_FUTURE_USAGE),
      shipping: shipping(params),
      statementDescriptor: optionalString(params, 'statement_descriptor', { maxLength: 22 }),
      statementDescriptorSuffix: descriptorSuffix(params),
      transferGroup: optionalString(params, 'transfer_group'),
    };
    const expand = expandPaths(params);
    return expandObject(ctx, updatePaymentIntent(ctx, intent, update), expand);
  });

  router.post('/v1/payment_intents/:id/confirm', ({ params, path, origin }) => {
    assertKnownParams(params, ['payment_method', 'off_session', 'return_url', 'expand']);
    const intent = getPaymentIntent(ctx, path.id as string);
    const paymentMethod = optionalString(params, 'payment_method');
    if (paymentMethod) requireTestCard(paymentMethod);
    const offSession = optionalBoolean(params, 'off_session');
    const expand = expandPaths(params);
    return expandObject(ctx, confirmPaymentIntent(ctx, intent, { paymentMethod, offSession }, origin), expand);
  });

  router.post('/v1/payment_intents/:id/capture', ({ params, path, origin }) => {
    assertKnownParams(params, ['amount_to_capture', 'metadata', 'expand']);
    const intent = getPaymentIntent(ctx, path.id as string);
    const amountToCapture = optionalInteger(params, 'amount_to_capture', { min: 1 });
    const update = metadata(params);
    const expand = expandPaths(params);
    const captured = capturePaymentIntent(
      ctx,
      intent,
      { amountToCapture, metadata: update === undefined ? undefined : mergeMetadata(intent.metadata, update) },
      origin,
    );
    return expandObject(ctx, captured, expand);
  });

  router.post('/v1/payment_intents/:id/cancel', ({ params, path, origin }) => {
    assertKnownParams(params, ['cancellation_reason', 'expand']);
    const intent = getPaymentIntent(ctx, path.id as string);
    const reason = optionalEnum(params, 'cancellation_reason', CANCELLATION_REASONS);
    const expand = expandPaths(params);
    return expandObject(ctx, cancelPaymentIntent(ctx, intent, reason, origin), expand);
  });

  router.get('/v1/payment_intents', ({ params, url }) => {
    assertKnownParams(params, [...LIST_PARAMS, 'customer']);
    const inRange = createdFilter(params);
    const customer = optionalString(params, 'customer');
    const items = newestFirst(ctx.store.paymentIntents).filter((pi) => inRange(pi) && (customer === undefined || pi.customer === customer));
    return expandList(ctx, paginate(items, params, url, 'payment_intent'), expandPaths(params));
  });
}
