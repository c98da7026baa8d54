import { isDatabaseUnavailable } from '../db/unavailable.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { parseStripeEvent, planEvent, type EventPlan, type StripeEvent } from './mapping.js';
import type { RejectReason, WebhookMetrics } from './metrics.js';
import { verifySignature, type SignatureFailure } from './signature.js';
import type { RecordResult } from './store.js';

/** Where verified events are recorded durably (GroupCommitStore). */
export interface EventRecorder {
  record(event: StripeEvent, payload: string, plan: EventPlan): Promise<RecordResult>;
}

export interface ReceiverOptions {
  store: EventRecorder;
  /** every secret accepted (rotation); empty → every delivery is answered 503 */
  secrets: readonly string[];
  toleranceSeconds: number;
  metrics: WebhookMetrics;
  log: Logger;
  /** unix seconds; tests move the clock */
  nowSeconds?: () => number;
}

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

const MESSAGES: Record<SignatureFailure, string> = {
  missing_header: 'missing Stripe-Signature header',
  malformed_header: 'malformed Stripe-Signature header',
  no_v1_signature: 'Stripe-Signature header has no v1 signature',
  bad_signature: 'no signature matches the payload with any configured webhook secret',
  stale_timestamp: 'Stripe-Signature timestamp is outside the tolerance',
};

/** Time between two warnings of the same rejection reason: a flood of forgeries must not flood the log. */
const REJECTION_LOG_INTERVAL_MS = 10_000;

/**
 * Turns one POST into an answer: verify the signature over the raw bytes, parse, map, and record
 * durably before answering 2xx. Knows nothing of HTTP frameworks; server.ts feeds it.
 */
export class WebhookReceiver {
  private readonly lastWarned = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: ReceiverOptions) {}

  get configured(): boolean {
    return this.options.secrets.length > 0;
  }

  async handle(rawBody: Buffer, signatureHeader: string | undefined): Promise<WebhookAnswer> {
    const { metrics, log } = this.options;
    if (!this.configured) {
      return this.reject(
        503,
        'no_secret_configured',
        'webhook secret not configured: set STRIPE_WEBHOOK_SECRET (alias STRIPE_WEBHOOK_KEY)',
      );
    }
    const check = verifySignature(rawBody, signatureHeader, this.options.secrets, {
      toleranceSeconds: this.options.toleranceSeconds,
      ...(this.options.nowSeconds ? { nowSeconds: this.options.nowSeconds() } : {}),
    });
    if (!check.ok) return this.reject(400, check.reason, MESSAGES[check.reason]);
    metrics.verified.inc();
    const event = parseStripeEvent(rawBody);
    if (!event) return this.reject(400, 'invalid_payload', 'the body is not a JSON Stripe event (id, type, data.object)');

    const plan = planEvent(event);
    let result: RecordResult;
    try {
      result = await this.options.store.record(event, rawBody.toString('utf8'), plan);
    } catch (error) {
      metrics.storeErrors.inc();
      if (isDatabaseUnavailable(error)) {
        // Our own outage (a restart, a failover): Stripe retries a 503 for days, nothing is lost.
        log.warn(
          { err: errorMessage(error), stripeEventId: event.id, type: event.type },
          'PostgreSQL is unreachable; answering 503 so Stripe delivers the event again',
        );
        return {
          status: 503,
          body: { error: { reason: 'database_unavailable', message: 'the event could not be recorded now; retry later' } },
        };
      }
      log.error(
        { err: error, stripeEventId: event.id, type: event.type },
        'could not record a verified webhook event; answering 500 so Stripe retries',
      );
      return { status: 500, body: { error: { reason: 'store_failed', message: 'the event could not be recorded; retry later' } } };
    }
    if (result.duplicate) {
      metrics.duplicates.inc();
      log.debug({ stripeEventId: event.id, type: event.type }, 'duplicate webhook delivery; already recorded');
      return { status: 200, body: { received: true, duplicate: true } };
    }
    const outcome = result.outcome.startsWith('published:') ? 'published' : result.outcome;
    metrics.outcomes.inc({ outcome });
    for (const published of result.published ?? []) metrics.published.inc({ topic: published.topic });
    const context = { stripeEventId: event.id, type: event.type, outcome: result.outcome, aggregateId: result.aggregateId };
    if (plan.action === 'missing_metadata') {
      for (const field of plan.missing) metrics.missingMetadata.inc({ field });
      log.warn(
        { ...context, object: plan.object, missing: plan.missing },
        `not publishing ${event.type} ${event.id}: the metadata of ${plan.object} lacks ${plan.missing.join(', ')}`,
      );
    } else if (result.outcome === 'unknown_payment') {
      log.warn(context, `not publishing ${event.type} ${event.id}: no payment of this pipeline matches it`);
    } else if (outcome === 'published') {
      // Routine, and thousands a second at peak: webhook_events and the outbox are the record.
      log.debug({ ...context, events: result.published }, 'webhook event recorded and published');
    } else {
      log.debug({ ...context, currentStatus: result.currentStatus }, 'webhook event recorded; nothing to publish');
    }
    return { status: 200, body: { received: true, outcome: result.outcome } };
  }

  /** Refusals that happen before the event is known (fastify's own: body too large, bad request). */
  rejected(status: number, reason: RejectReason, message: string): WebhookAnswer {
    return this.reject(status, reason, message);
  }

  private reject(status: number, reason: RejectReason, message: string): WebhookAnswer {
    this.options.metrics.rejected.inc({ reason });
    const now = Date.now();
    const last = this.lastWarned.get(reason);
    if (!last || now - last.at >= REJECTION_LOG_INTERVAL_MS) {
      this.options.log.warn(
        { status, reason, ...(last?.suppressed ? { suppressedSinceLast: last.suppressed } : {}) },
        `webhook request rejected: ${message}`,
      );
      this.lastWarned.set(reason, { at: now, suppressed: 0 });
    } else {
      last.suppressed++;
    }
    return { status, body: { error: { reason, message } } };
  }
}
