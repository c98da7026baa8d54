import type pg from 'pg';
import type Stripe from 'stripe';
import { createPool } from '../../db/connect.js';
import { OperationError, UnavailableError, UsageError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { requireCurrentSchema } from '../../migrate/schema-gate.js';
import { createStripeClient } from '../../stripe/client.js';
import { classifyStripeError } from '../../stripe/errors.js';
import { planEvent, type StripeEvent } from '../../webhook/mapping.js';
import { WEBHOOK_EVENT_SOURCE, recordWebhookEvent } from '../../webhook/store.js';
import { postgresReachable } from './reachable.js';
import { closeReplay, openReplay } from './store.js';

/** Stripe keeps events for 30 days; older ones cannot be listed. */
export const STRIPE_EVENT_RETENTION_MS = 30 * 24 * 3600 * 1000;
export const DEFAULT_STRIPE_EVENTS_WINDOW_MS = 3 * 24 * 3600 * 1000;

export interface StripeEventsReplayOptions {
  databaseUrl: string;
  stripeApiKey: string;
  stripeApiBase?: string;
  /** ms since the epoch; default three days ago */
  sinceMs?: number;
  untilMs?: number;
  /** Stripe event types (`types[]`, `payment_intent.*` allowed); empty: all */
  types: string[];
  limit?: number;
  /** ask Stripe to deliver them again to the endpoint instead of feeding them here */
  resend: boolean;
  webhookEndpoint?: string;
  execute: boolean;
  log: Logger;
  now?: number;
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Ctrl-C: stop before the next event; what was fed stays recorded, and a re-run goes on with the rest */
  signal?: AbortSignal;
}

export type StripeEventDisposition =
  /** fed (or resent) by this run, or would be in a dry run */
  | 'candidate'
  /** already in webhook_events: it reached the receiver */
  | 'already_received'
  /** a type the receiver does not act on (it would answer ignored_type) */
  | 'ignored';

export interface StripeEventEntry {
  id: string;
  type: string;
  created: string;
  disposition: StripeEventDisposition;
  /** after --execute: the receiver's outcome, `duplicate`, `resent`, or `failed` */
  outcome?: string;
  error?: string;
}

export interface StripeEventsReplayReport {
  mode: 'plan' | 'execute';
  action: 'feed' | 'resend';
  replayId?: string;
  /** how Stripe was asked: only events it marks undelivered, or every event in the window */
  listed: 'delivery_success=false' | 'all_in_window';
  since: string;
  until: string;
  webhookEndpoint?: string;
  events: StripeEventEntry[];
  replayed: number;
  failed: number;
  /** stopped by Ctrl-C before every event was fed (or resent) */
  interrupted: boolean;
  /** 0 done · 1 some could not be fed or resent · 130 interrupted */
  exitCode: 0 | 1 | 130;
}

interface Window {
  since: number;
  until: number;
}

function selectionWindow(options: StripeEventsReplayOptions): Window {
  const now = options.now ?? Date.now();
  const oldest = now - STRIPE_EVENT_RETENTION_MS;
  const since = options.sinceMs ?? now - DEFAULT_STRIPE_EVENTS_WINDOW_MS;
  const until = options.untilMs ?? now;
  if (since < oldest)
    throw new UsageError(
      `--since ${new Date(since).toISOString()} is older than Stripe keeps events (30 days, so ${new Date(oldest).toISOString()} at the earliest)`,
      { hint: 'events older than that cannot be replayed from Stripe; use reconcile for the payments they concern' },
    );
  if (since > until) throw new UsageError('--since is after --until');
  return { since, until };
}

function validate(options: StripeEventsReplayOptions): void {
  if (options.types.length > 20) throw new UsageError('--type may be given at most 20 times (Stripe takes 20 types)');
  const badType = options.types.find((type) => !/^[a-z_]+(\.[a-z_]+)*(\.\*)?$/.test(type));
  if (badType !== undefined)
    throw new UsageError(`--type takes a Stripe event type such as payment_intent.succeeded or payment_intent.*, got "${badType}"`);
  if (options.webhookEndpoint !== undefined && !options.resend) throw new UsageError('--webhook-endpoint goes with --resend');
  if (options.webhookEndpoint !== undefined && !/^we_\w+$/.test(options.webhookEndpoint))
    throw new UsageError(`--webhook-endpoint takes a Stripe webhook endpoint id (we_...), got "${options.webhookEndpoint}"`);
}

/** A Stripe failure as the operator should see it: unreachable → exit 3, anything else → exit 1. */
function stripeFailure(error: unknown, what: string): Error {
  if (error instanceof UsageError) return error;
  const failure = classifyStripeError(error);
  const status = failure.details.statusCode;
  if (failure.retryable && (status === undefined || status >= 500 || status === 429))
    return new UnavailableError(`cannot reach Stripe to ${what}: ${failure.message}`, {
      hint: 'check STRIPE_API_BASE (if set) and that Stripe answers; then run the same command again',
      cause: error,
    });
  if (status === 401) return new UsageError(`Stripe refused the API key while trying to ${what}`, { hint: 'check STRIPE_API_KEY' });
  return new OperationError(`Stripe refused to ${what}: ${failure.message}`, { cause: error });
}

/** Events in the window, oldest first; only undelivered ones where Stripe can say so. */
async function listEvents(
  stripe: Stripe,
  window: Window,
  types: string[],
): Promise<{ events: Stripe.Event[]; listed: StripeEventsReplayReport['listed'] }> {
  const base: Stripe.EventListParams = {
    created: { gte: Math.floor(window.since / 1000), lte: Math.floor(window.until / 1000) },
    limit: 100,
    ...(types.length ? { types } : {}),
  };
  const walk = async (params: Stripe.EventListParams) => {
    const found: Stripe.Event[] = [];
    for await (const event of stripe.events.list(params)) found.push(event);
    // Stripe lists newest first; the receiver must see them in the order they happened.
    return found.reverse();
  };
  try {
    return { events: await walk({ ...base, delivery_success: false }), listed: 'delivery_success=false' };
  } catch (error) {
    const param = (error as { param?: string }).param;
    if (param !== 'delivery_success') throw stripeFailure(error, 'list events');
  }
  try {
    return { events: await walk(base), listed: 'all_in_window' };
  } catch (error) {
    throw stripeFailure(error, 'list events');
  }
}

async function receivedIds(pool: pg.Pool, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const { rows } = await pool.query<{ id: string }>(
    'SELECT stripe_event_id AS id FROM webhook_events WHERE stripe_event_id = ANY($1::text[])',
    [ids],
  );
  return new Set(rows.map((r) => r.id));
}

/** The endpoint to resend to: the one given, or the account's only enabled one. */
async function chooseEndpoint(stripe: Stripe, given: string | undefined): Promise<string> {
  // Taken as given: Stripe answers the retry of an unknown endpoint 404, reported per event.
  if (given !== undefined) return given;
  let endpoints: Stripe.WebhookEndpoint[] = [];
  try {
    for await (const endpoint of stripe.webhookEndpoints.list({ limit: 100 })) endpoints.push(endpoint);
  } catch (error) {
    throw stripeFailure(error, 'list webhook endpoints');
  }
  endpoints = endpoints.filter((e) => e.status === 'enabled');
  if (endpoints.length === 1) return endpoints[0]!.id;
  throw new UsageError(
    endpoints.length
      ? `${endpoints.length} webhook endpoints are enabled; choose one with --webhook-endpoint`
      : 'no webhook endpoint is enabled at Stripe: --resend has nowhere to deliver to',
    { hint: describeEndpoints(endpoints) },
  );
}

function describeEndpoints(endpoints: Stripe.WebhookEndpoint[]): string {
  if (!endpoints.length) return 'register the receiver as a webhook endpoint at Stripe, or feed the events here without --resend';
  return `endpoints: ${endpoints.map((e) => `${e.id} ${e.url} (${e.status})`).join('; ')}`;
}

/**
 * Stripe events that never reached the receiver, put through it after all: listed from Stripe,
 * those already in webhook_events skipped, the rest fed through the receiver's own durable write
 * (same mapping, same transaction, same dedupe as a delivery after its signature is verified), or
 * with `resend` delivered again by Stripe to the endpoint. Oldest first. Dry run unless `execute`.
 */
export async function replayStripeEvents(options: StripeEventsReplayOptions): Promise<StripeEventsReplayReport> {
  validate(options);
  const window = selectionWindow(options);
  await requireCurrentSchema(options.databaseUrl, options.log);
  const stripe = createStripeClient({
    apiKey: options.stripeApiKey,
    ...(options.stripeApiBase ? { apiBase: options.stripeApiBase } : {}),
  });
  // Pipelined like the receiver's own pool: the receiver's transaction sends its steps without waiting.
  const pool = createPool(options.databaseUrl, { max: 2, applicationName: 'paymentsctl-replay', pipeline: true });
  try {
    const endpoint = options.resend ? await chooseEndpoint(stripe, options.webhookEndpoint) : undefined;
    const { events, listed } = await listEvents(stripe, window, options.types);
    const received = await postgresReachable(options.databaseUrl, () =>
      receivedIds(
        pool,
        events.map((e) => e.id),
      ),
    );
    const entries: { entry: StripeEventEntry; event: Stripe.Event }[] = [];
    let candidates = 0;
    for (const event of events) {
      const parsed = event as unknown as StripeEvent;
      const disposition: StripeEventDisposition = received.has(event.id) ? 'already_received' : isIgnored(parsed) ? 'ignored' : 'candidate';
      if (disposition === 'candidate') {
        if (options.limit !== undefined && candidates >= options.limit) continue;
        candidates++;
      }
      entries.push({
        entry: { id: event.id, type: event.type, created: new Date(event.created * 1000).toISOString(), disposition },
        event,
      });
    }
    const report: StripeEventsReplayReport = {
      mode: options.execute ? 'execute' : 'plan',
      action: options.resend ? 'resend' : 'feed',
      listed,
      since: new Date(window.since).toISOString(),
      until: new Date(window.until).toISOString(),
      ...(endpoint ? { webhookEndpoint: endpoint } : {}),
      events: entries.map((e) => e.entry),
      replayed: 0,
      failed: 0,
      interrupted: false,
      exitCode: 0,
    };
    const todo = entries.filter((e) => e.entry.disposition === 'candidate');
    if (!options.execute || !todo.length) return report;
    const selection = {
      since: report.since,
      until: report.until,
      types: options.types,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      action: report.action,
      ...(endpoint ? { webhookEndpoint: endpoint } : {}),
      listed,
    };
    const replayId = await postgresReachable(options.databaseUrl, () => openReplay(pool, 'stripe-events', selection, todo.length));
    report.replayId = replayId;
    let skipped = 0;
    let done = 0;
    for (const { entry, event } of todo) {
      if (options.signal?.aborted) break;
      try {
        if (endpoint) {
          await resend(stripe, event.id, endpoint);
          entry.outcome = 'resent';
        } else {
          const parsed = event as unknown as StripeEvent;
          const result = await postgresReachable(options.databaseUrl, () =>
            recordWebhookEvent(pool, parsed, JSON.stringify(event), planEvent(parsed), { source: WEBHOOK_EVENT_SOURCE }),
          );
          entry.outcome = result.duplicate ? 'duplicate' : result.outcome;
        }
        if (entry.outcome === 'duplicate') skipped++;
        else report.replayed++;
      } catch (error) {
        if (error instanceof UnavailableError) {
          await closeReplay(pool, replayId, 'failed', {
            selected: todo.length,
            replayed: report.replayed,
            skipped,
            failed: todo.length - report.replayed - skipped,
          }).catch(() => undefined);
          throw error;
        }
        entry.outcome = 'failed';
        entry.error = errorMessage(error);
        report.failed++;
      }
      await postgresReachable(options.databaseUrl, () =>
        pool.query(
          `INSERT INTO replay_stripe_events (replay_id, event_id, type, created, action, outcome, error) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [replayId, entry.id, entry.type, entry.created, report.action, entry.outcome, entry.error ?? null],
        ),
      );
      done++;
      options.onProgress?.({ done, total: todo.length });
    }
    report.interrupted = done < todo.length;
    const status = report.interrupted ? 'interrupted' : 'completed';
    await postgresReachable(options.databaseUrl, () =>
      closeReplay(pool, replayId, status, { selected: todo.length, replayed: report.replayed, skipped, failed: report.failed }),
    );
    report.exitCode = report.interrupted ? 130 : report.failed ? 1 : 0;
    return report;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** What the receiver would answer ignored_type for: nothing of this pipeline to feed. */
function isIgnored(event: StripeEvent): boolean {
  const plan = planEvent(event);
  return plan.action === 'ignore' && plan.outcome === 'ignored_type';
}

/** Stripe CLI's `events resend`: the SDK has no method for it, so through its raw request. */
async function resend(stripe: Stripe, eventId: string, endpoint: string): Promise<void> {
  try {
    await stripe.rawRequest('POST', `/v1/events/${encodeURIComponent(eventId)}/retry`, { webhook_endpoint: endpoint });
  } catch (error) {
    throw stripeFailure(error, `resend ${eventId}`);
  }
}
