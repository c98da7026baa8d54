import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import { authenticate } from './auth.js';
import { apiError, invalidRequest, rateLimited, StripeApiError } from './errors.js';
import type { FaultInjector, RequestFaults } from './faults.js';
import type { RequestMeter } from './request-meter.js';
import { FormParseError, parseForm, parseQuery, type FormObject } from './form.js';
import { isSavedForIdempotency, type IdempotencyStore, type StoredResponse } from './idempotency.js';
import { DEFAULT_API_VERSION } from './objects.js';
import type { ApiHandler, ApiRouter } from './router.js';
import { sleep } from './timing.js';

/**
 * The path every `/v1` request takes, in the order real Stripe applies it:
 * authenticate → draw faults → (rate-limit fault) → idempotency → added latency → run the handler
 * (or the 500 fault) → save the response under the Idempotency-Key → answer (or reset / hold).
 * Latency comes after the key is claimed, so a slow first request makes a concurrent retry with
 * the same key see 409 idempotency_key_in_use, as with Stripe.
 */

export interface PipelineDeps {
  faults: FaultInjector;
  idempotency: IdempotencyStore;
  meter: RequestMeter;
  log: Logger;
  /** aborted when the emulator closes: pending latency and held responses end at once */
  shutdown: AbortSignal;
}

interface Outcome {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

type Method = 'GET' | 'POST' | 'DELETE';

function fromError(error: StripeApiError): Outcome {
  return { status: error.status, body: error.toJSON(), headers: error.headers };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readParams(request: FastifyRequest, method: Method): FormObject {
  if (method !== 'POST') return parseQuery(request.url);
  const body = request.body;
  if (body === undefined || body === null || body === '') return {};
  if (typeof body === 'string') return parseForm(body);
  throw invalidRequest('Request bodies must be application/x-www-form-urlencoded, as Stripe expects.');
}

export function createApiRouter(server: FastifyInstance, deps: PipelineDeps): ApiRouter {
  const add = (method: Method) => (path: string, handler: ApiHandler) => {
    server.route({ method, url: path, handler: (request, reply) => handle(deps, method, handler, request, reply) });
  };
  return { get: add('GET'), post: add('POST'), delete: add('DELETE') };
}

async function handle(
  deps: PipelineDeps,
  method: Method,
  handler: ApiHandler,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const requestId = String(request.id);
  // An empty header is no key at all: otherwise unrelated requests would replay each other.
  const idempotencyKey = method === 'POST' ? header(request, 'idempotency-key') || undefined : undefined;
  const baseHeaders: Record<string, string> = {
    'Request-Id': requestId,
    'Stripe-Version': header(request, 'stripe-version') ?? DEFAULT_API_VERSION,
    ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}),
  };

  let apiKey: string;
  let params: FormObject;
  try {
    apiKey = authenticate(header(request, 'authorization'));
    params = readParams(request, method);
  } catch (error) {
    // Refused before anything ran: no faults, nothing saved.
    return send(reply, toOutcome(error, deps.log), baseHeaders);
  }

  // Stripe's rate limiter refuses before anything else happens, and draws no fault.
  if (!deps.meter.arrive(deps.faults.config.rateLimitPerSecond)) return send(reply, fromError(rateLimited()), baseHeaders);
  const faults = deps.faults.forRequest(orderNamedBy(params));
  if (faults.error || faults.transport) deps.log.debug({ requestId, method, url: request.url, faults }, 'injecting faults');
  let outcome: Outcome;
  try {
    outcome = await run();
  } catch {
    // Only the shutdown signal rejects here: the emulator is closing.
    request.raw.socket.destroy();
    return reply.hijack();
  }
  return deliver(deps, request, reply, { ...outcome, headers: { ...baseHeaders, ...outcome.headers } }, faults);

  async function run(): Promise<Outcome> {
    if (faults.error === 429) {
      await sleep(faults.delayMs, deps.shutdown);
      return fromError(rateLimited());
    }
    let finish: ((saved: StoredResponse | null) => void) | undefined;
    if (idempotencyKey !== undefined) {
      let claim;
      try {
        claim = deps.idempotency.begin(apiKey, idempotencyKey, { method, path: request.url.split('?')[0] as string, params });
      } catch (error) {
        await sleep(faults.delayMs, deps.shutdown);
        return toOutcome(error, deps.log);
      }
      if (claim.kind === 'replay') {
        await sleep(faults.delayMs, deps.shutdown);
        const saved = claim.response;
        return {
          status: saved.status,
          body: saved.body,
          headers: { ...saved.headers, 'Idempotent-Replayed': 'true', 'Original-Request': saved.requestId },
        };
      }
      finish = claim.finish;
    }
    try {
      await sleep(faults.delayMs, deps.shutdown);
    } catch (error) {
      finish?.(null);
      throw error;
    }
    let outcome: Outcome;
    if (faults.error === 500) {
      // Stripe may fail before or after it did the work; the client cannot tell which.
      if (faults.errorAfterRun) invoke();
      outcome = fromError(apiError('An unknown error occurred (injected by the emulator).'));
    } else {
      outcome = invoke();
    }
    finish?.(isSavedForIdempotency(outcome.status) ? { ...outcome, requestId } : null);
    return outcome;
  }

  function invoke(): Outcome {
    try {
      const body = handler({
        params,
        path: request.params as Record<string, string>,
        origin: { requestId, idempotencyKey: idempotencyKey ?? null },
        url: request.url.split('?')[0] as string,
      });
      // A snapshot: a replay, or a held response, must show the object as it was answered, not
      // as later requests changed it.
      return { status: 200, body: structuredClone(body), headers: {} };
    } catch (error) {
      const outcome = toOutcome(error, deps.log);
      return { ...outcome, body: structuredClone(outcome.body) };
    }
  }
}

function toOutcome(error: unknown, log: Logger): Outcome {
  if (error instanceof StripeApiError) return fromError(error);
  if (error instanceof FormParseError) return fromError(invalidRequest(error.message));
  log.error({ err: error }, 'stripe emulator: unexpected error in a handler');
  return fromError(apiError());
}

function send(reply: FastifyReply, outcome: Outcome, headers: Record<string, string>): FastifyReply {
  return reply
    .code(outcome.status)
    .headers({ ...headers, ...outcome.headers })
    .type('application/json')
    .send(JSON.stringify(outcome.body));
}

/** Answers, or applies the transport fault: the request has run, but the client will not know. */
async function deliver(
  deps: PipelineDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  outcome: Outcome,
  faults: RequestFaults,
): Promise<FastifyReply> {
  if (faults.transport === null) return send(reply, outcome, {});
  reply.hijack();
  const socket = request.raw.socket;
  if (faults.transport === 'reset') {
    socket.destroy();
    return reply;
  }
  if (faults.holdMs === 0) return reply; // never answered; the socket closes when the client gives up or we close
  try {
    await sleep(faults.holdMs, deps.shutdown);
  } catch {
    socket.destroy();
    return reply;
  }
  if (!socket.destroyed) {
    reply.raw.writeHead(outcome.status, { ...outcome.headers, 'content-type': 'application/json; charset=utf-8' });
    reply.raw.end(JSON.stringify(outcome.body));
  }
  return reply;
}

/** The order a request is about, as its metadata names it (PaymentIntents carry order_id, Checkout Sessions trip_id). */
function orderNamedBy(params: FormObject): string | undefined {
  const metadata = params.metadata;
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return undefined;
  const id = metadata.order_id ?? metadata.trip_id;
  return typeof id === 'string' ? id : undefined;
}
