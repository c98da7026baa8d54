import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage, UsageError } from '../errors.js';
import { getCharge } from './charges.js';
import { CHECKOUT_OUTCOMES, completeCheckoutSession, getCheckoutSession, type CheckoutOutcome } from './checkout-sessions.js';
import type { EmulatorContext } from './context.js';
import { invalidRequest, StripeApiError } from './errors.js';
import type { FaultInjector } from './faults.js';
import { FormParseError, parseForm } from './form.js';
import { chargeReport } from './inspection.js';
import { NO_ORIGIN } from './objects.js';
import { checkoutPage, receiptPage } from './pages.js';
import { finishAuthentication, getPaymentIntent } from './payment-intents.js';
import type { RequestMeter } from './request-meter.js';
import type { WebhookDispatcher, WebhookTarget } from './webhook-delivery.js';

/**
 * The emulator's own endpoints under /_emulator (no API key, no faults): inspect and steer it
 * while it runs. They take JSON or form bodies and answer JSON.
 */

export interface AdminDeps {
  ctx: EmulatorContext;
  faults: FaultInjector;
  dispatcher: WebhookDispatcher;
  meter: RequestMeter;
  targets: () => WebhookTarget[];
  /** forget every object, event, idempotency key and delivery; restart the fault sequence */
  reset: () => void;
  /** run `work` after `ms` unless the emulator closes or resets first */
  schedule: (ms: number, work: () => void) => void;
}

type Body = Record<string, unknown>;

function bodyOf(request: FastifyRequest): Body {
  const body = request.body;
  if (typeof body === 'string') return parseForm(body);
  if (body && typeof body === 'object' && !Array.isArray(body)) return body as Body;
  return {};
}

function fail(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof StripeApiError) return reply.code(error.status).send(error.toJSON());
  if (error instanceof UsageError || error instanceof FormParseError) {
    return reply.code(400).send({ error: { type: 'invalid_request_error', message: errorMessage(error) } });
  }
  throw error;
}

/** Wraps a handler so Stripe-style and usage errors become JSON error responses. */
function guarded(handler: (request: FastifyRequest, reply: FastifyReply) => unknown) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      return await handler(request, reply);
    } catch (error) {
      return fail(reply, error);
    }
  };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidRequest(`${name} must be one of ${allowed.join(', ')}`, { param: name });
  }
  return value as T;
}

function wholeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw invalidRequest(`${name} must be a whole number ≥ 0`, { param: name });
  return n;
}

export function registerAdminRoutes(server: FastifyInstance, deps: AdminDeps): void {
  const { ctx } = deps;

  server.get('/_emulator/health', async () => ({ status: 'ok' }));

  server.get('/_emulator/faults', async () => deps.faults.config);
  server.post(
    '/_emulator/faults',
    guarded((request) => deps.faults.update(bodyOf(request))),
  );

  server.get('/_emulator/charges', async () => chargeReport(ctx.store));

  // How many /v1 requests arrived, how many the rate limit refused, and the busiest second.
  server.get('/_emulator/requests', async () => deps.meter.stats());
  server.delete('/_emulator/requests', async () => {
    deps.meter.reset();
    return deps.meter.stats();
  });

  // Every event recorded, oldest first, as webhooks carry them.
  server.get('/_emulator/events', async () => ({ events: [...ctx.store.events.values()] }));

  server.get('/_emulator/webhooks', async () => ({
    endpoints: deps.targets().map(({ id, url, enabledEvents }) => ({ id, url, enabledEvents })),
    deliveries: deps.dispatcher.deliveries(),
  }));

  server.post('/_emulator/reset', async () => {
    deps.reset();
    return { reset: true };
  });

  server.post(
    '/_emulator/clock',
    guarded((request) => {
      const body = bodyOf(request);
      return { now: ctx.clock.advance(wholeNumber(body.advanceSeconds, 'advanceSeconds', 0)) };
    }),
  );

  server.post(
    '/_emulator/checkout/sessions/:id/complete',
    guarded((request, reply) => {
      const body = bodyOf(request);
      const session = getCheckoutSession(ctx, (request.params as { id: string }).id);
      const outcome = oneOf<CheckoutOutcome>(body.outcome ?? 'paid', CHECKOUT_OUTCOMES, 'outcome');
      const settleAfterMs = wholeNumber(body.settleAfterMs, 'settleAfterMs', 0);
      const completed = completeCheckoutSession(ctx, session, outcome, deps.schedule, settleAfterMs);
      // The checkout page's buttons ask to be sent on to success_url, as Stripe's hosted page does.
      if ((body.redirect === true || body.redirect === 'true') && completed.success_url) {
        return reply.redirect(completed.success_url.replace('{CHECKOUT_SESSION_ID}', completed.id), 303);
      }
      return completed;
    }),
  );

  server.post(
    '/_emulator/payment_intents/:id/authenticate',
    guarded((request) => {
      const body = bodyOf(request);
      const intent = getPaymentIntent(ctx, (request.params as { id: string }).id);
      const outcome = oneOf(body.outcome ?? 'succeeded', ['succeeded', 'failed'] as const, 'outcome');
      return finishAuthentication(ctx, intent, outcome === 'succeeded', NO_ORIGIN);
    }),
  );

  server.get(
    '/checkout/:id',
    guarded((request, reply) => {
      const session = getCheckoutSession(ctx, (request.params as { id: string }).id);
      return reply.type('text/html; charset=utf-8').send(checkoutPage(session, ctx.store.checkoutExtras.get(session.id)));
    }),
  );

  server.get(
    '/receipts/:id',
    guarded((request, reply) => {
      const charge = getCharge(ctx, (request.params as { id: string }).id);
      return reply.type('text/html; charset=utf-8').send(receiptPage(charge));
    }),
  );
}
