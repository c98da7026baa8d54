import type { EmulatorContext } from './context.js';
import { expandList, expandObject } from './expand.js';
import { createdFilter, LIST_PARAMS, paginate } from './list.js';
import {
  assertKnownParams,
  currency,
  expandPaths,
  mergeMetadata,
  metadata,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalString,
  optionalStringArray,
  requiredInteger,
} from './params.js';
import {
  cancelPaymentIntent,
  CANCELLATION_REASONS,
  capturePaymentIntent,
  confirmPaymentIntent,
  createPaymentIntent,
  getPaymentIntent,
  requireTestCard,
} from './payment-intents.js';
import type { CaptureMethod } from './objects.js';
import type { ApiRouter } from './router.js';
import { newestFirst } from './store.js';

/** Stripe's ceiling for one payment, in minor units. */
const MAX_AMOUNT = 99_999_999;

const CREATE_PARAMS = [
  'amount',
  'currency',
  'payment_method',
  'confirm',
  'metadata',
  'customer',
  'capture_method',
  'description',
  'payment_method_types',
  'automatic_payment_methods',
  'receipt_email',
  'statement_descriptor',
  'off_session',
  'return_url',
  'expand',
] as const;

export function registerPaymentIntentRoutes(router: ApiRouter, ctx: EmulatorContext): void {
  router.post('/v1/payment_intents', ({ params, origin }) => {
    assertKnownParams(params, CREATE_PARAMS);
    const amount = requiredInteger(params, 'amount', { min: 1, max: MAX_AMOUNT });
    const currencyCode = currency(params, 'currency') as string;
    const paymentMethod = optionalString(params, 'payment_method');
    // Validate everything before creating anything: a 400 must leave no trace.
    if (paymentMethod) requireTestCard(paymentMethod);
    const confirm = optionalBoolean(params, 'confirm') ?? false;
    const offSession = optionalBoolean(params, 'off_session');
    optionalObject(params, 'automatic_payment_methods');
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
        captureMethod:
          optionalEnum<CaptureMethod>(params, 'capture_method', ['automatic', 'automatic_async', 'manual']) ?? 'automatic_async',
        description: optionalString(params, 'description'),
        paymentMethodTypes: optionalStringArray(params, 'payment_method_types') ?? ['card'],
        receiptEmail: optionalString(params, 'receipt_email'),
        statementDescriptor: optionalString(params, 'statement_descriptor', { maxLength: 22 }),
      },
      origin,
    );
    if (confirm) confirmPaymentIntent(ctx, intent, { offSession }, origin);
    return expandObject(ctx, intent, expand);
  });

  router.get('/v1/payment_intents/:id', ({ params, path }) => {
    assertKnownParams(params, ['expand', 'client_secret']);
    return expandObject(ctx, getPaymentIntent(ctx, path.id as string), expandPaths(params));
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
      { amountToCapture, metadata: update && mergeMetadata(intent.metadata, update) },
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
