import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError } from '../errors.js';
import { logger, type Logger } from '../log.js';
import { redact } from '../redact.js';
import { registerAdminRoutes } from './admin-routes.js';
import { createApiRouter } from './api-pipeline.js';
import { registerChargeRoutes } from './charge-routes.js';
import { registerCheckoutSessionRoutes } from './checkout-session-routes.js';
import { Clock } from './clock.js';
import type { EmulatorContext } from './context.js';
import { apiError, invalidRequest, StripeApiError } from './errors.js';
import { EventLog } from './event-log.js';
import { registerEventRoutes } from './event-routes.js';
import { FaultInjector, type FaultConfig } from './faults.js';
import { IdempotencyStore } from './idempotency.js';
import { ID_PREFIX, newId, newWebhookSecret } from './ids.js';
import { registerPaymentIntentRoutes } from './payment-intent-routes.js';
import { randomSeed, SeededRandom } from '../random.js';
import { registerRefundRoutes } from './refund-routes.js';
import { RequestMeter } from './request-meter.js';
import { EmulatorStore } from './store.js';
import { DEFAULT_WEBHOOK_RETRY, WebhookDispatcher, type WebhookRetryPolicy, type WebhookTarget } from './webhook-delivery.js';
import { registeredTargets, registerWebhookEndpointRoutes } from './webhook-endpoint-routes.js';

export interface EmulatorOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** 0 = a free port; default 12111 */
  port?: number;
  /** every event is POSTed to each of these, signed with `webhookSecret` */
  webhookUrls?: string[];
  /** default: a fresh whsec_… (see RunningEmulator.webhookSecret) */
  webhookSecret?: string;
  /** seeds fault decisions; default random (RunningEmulator.seed tells which) */
  seed?: number;
  faults?: Partial<FaultConfig>;
  /** webhook retry schedule; tests make it short */
  webhookRetry?: Partial<WebhookRetryPolicy>;
  log?: Logger;
}

export interface RunningEmulator {
  /** http://127.0.0.1:<port> — what to give the SDK (host/port/protocol) or STRIPE_API_BASE */
  url: string;
  port: number;
  /** signs deliveries to `webhookUrls` */
  webhookSecret: string;
  seed: number;
  setFaults(faults: Partial<FaultConfig>): void;
  close(): Promise<void>;
}

export const DEFAULT_EMULATOR_PORT = 12111;

/** A second, independent stream for webhook faults, so webhook traffic cannot shift API faults. */
const WEBHOOK_SEED_MIX = 0x5bd1e995;

function validateWebhookUrls(urls: string[]): void {
  for (const url of urls) {
    let ok: boolean;
    try {
      ok = ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError('--webhook-url', `--webhook-url must be an http(s) URL, got "${redact(url)}"`);
  }
}

function publicUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** Stripe-shaped answers for what the routes never see: unknown URLs, unparsable bodies. */
function installFallbacks(server: FastifyInstance, log: Logger): void {
  server.setNotFoundHandler((request, reply) => {
    const error = invalidRequest(
      `Unrecognized request URL (${request.method}: ${request.url.split('?')[0]}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
      { status: 404 },
    );
    return reply.code(404).send(error.toJSON());
  });
  server.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) log.error({ err: error }, 'stripe emulator: unexpected error');
    const body =
      status >= 500 ? apiError().toJSON() : new StripeApiError(status, { type: 'invalid_request_error', message: error.message }).toJSON();
    return reply.code(status).send(body);
  });
}

export async function startStripeEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const log = options.log ?? logger();
  const host = options.host ?? '127.0.0.1';
  const webhookUrls = options.webhookUrls ?? [];
  validateWebhookUrls(webhookUrls);
  const webhookSecret = options.webhookSecret ?? newWebhookSecret();
  const seed = options.seed ?? randomSeed();
  const faults = new FaultInjector(options.faults ?? {}, new SeededRandom(seed), new SeededRandom((seed ^ WEBHOOK_SEED_MIX) >>> 0));
  const retry: WebhookRetryPolicy = { ...DEFAULT_WEBHOOK_RETRY, ...options.webhookRetry };

  const store = new EmulatorStore();
  const clock = new Clock();
  const idempotency = new IdempotencyStore();
  const meter = new RequestMeter();
  const shutdown = new AbortController();
  let baseUrl = '';
  const staticTargets: WebhookTarget[] = webhookUrls.map((url, i) => ({
    id: `we_cli_${i + 1}`,
    url,
    secret: webhookSecret,
    enabledEvents: ['*'],
  }));
  // The dispatcher asks for targets per event (never before `ctx` exists), so endpoints registered later are included.
  const targets = () => [...staticTargets, ...registeredTargets(ctx)];
  const dispatcher = new WebhookDispatcher({ targets, faults, retry, log });
  const ctx: EmulatorContext = {
    store,
    clock,
    events: new EventLog(store, clock, dispatcher),
    baseUrl: () => baseUrl,
    webhookTargets: targets,
    redeliver: (eventId, targetId) => {
      const event = store.events.get(eventId);
      const target = targets().find((t) => t.id === targetId);
      if (event && target) dispatcher.redeliver(event, target);
    },
  };

  const timers = new Set<NodeJS.Timeout>();
  const schedule = (ms: number, work: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      work();
    }, ms);
    timers.add(timer);
  };
  const cancelScheduled = () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };

  const server = Fastify({
    logger: false,
    // Held (timeout-fault) connections must not keep close() waiting.
    forceCloseConnections: true,
    genReqId: () => newId(ID_PREFIX.request, 14),
    bodyLimit: 1024 * 1024,
  });
  server.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  server.addHook('onRequest', async (request, reply) => {
    reply.header('Request-Id', String(request.id));
  });
  server.addHook('onResponse', async (request, reply) => {
    log.debug(
      { requestId: request.id, method: request.method, url: request.url.split('?')[0], status: reply.statusCode },
      'stripe emulator request',
    );
  });
  installFallbacks(server, log);

  const router = createApiRouter(server, { faults, idempotency, meter, log, shutdown: shutdown.signal });
  registerPaymentIntentRoutes(router, ctx);
  registerChargeRoutes(router, ctx);
  registerCheckoutSessionRoutes(router, ctx);
  registerRefundRoutes(router, ctx);
  registerEventRoutes(router, ctx);
  registerWebhookEndpointRoutes(router, ctx);
  registerAdminRoutes(server, {
    ctx,
    faults,
    dispatcher,
    meter,
    targets,
    schedule,
    reset: () => {
      cancelScheduled();
      dispatcher.reset();
      store.clear();
      idempotency.clear();
      meter.reset();
      clock.reset();
      faults.restart();
    },
  });

  await server.listen({ host, port: options.port ?? DEFAULT_EMULATOR_PORT });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? DEFAULT_EMULATOR_PORT);
  baseUrl = publicUrl(host, port);

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    webhookSecret,
    seed,
    setFaults: (partial) => void faults.update(partial),
    close: () =>
      (closing ??= (async () => {
        shutdown.abort(new Error('emulator closing'));
        cancelScheduled();
        await dispatcher.close();
        await server.close();
      })()),
  };
}
