import { Counter, Histogram, type Registry } from 'prom-client';
import type { SignatureFailure } from './signature.js';

/** Why a request was refused; the `reason` label of paymentsctl_webhook_rejected_total. */
export type RejectReason = SignatureFailure | 'no_secret_configured' | 'invalid_payload' | 'body_too_large' | 'bad_request';

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;

export function createWebhookMetrics(registry: Registry) {
  return {
    received: new Counter({
      name: 'paymentsctl_webhook_received_total',
      help: 'Requests to the webhook path (any method, any outcome)',
      registers: [registry],
    }),
    verified: new Counter({
      name: 'paymentsctl_webhook_verified_total',
      help: 'Requests whose Stripe-Signature verified against a configured secret',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'paymentsctl_webhook_rejected_total',
      help: 'Requests refused before anything was recorded, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'paymentsctl_webhook_duplicates_total',
      help: 'Verified deliveries of a Stripe event id already recorded (answered 2xx, nothing new produced)',
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'paymentsctl_webhook_events_total',
      help: 'Verified events recorded, by what they did: published, stale, ignored_type, missing_metadata, …',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    published: new Counter({
      name: 'paymentsctl_webhook_published_total',
      help: 'Pipeline events written to the outbox, by topic',
      labelNames: ['topic'],
      registers: [registry],
    }),
    missingMetadata: new Counter({
      name: 'paymentsctl_webhook_missing_metadata_total',
      help: 'Events not announced because a required metadata field was missing, by field',
      labelNames: ['field'],
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'paymentsctl_webhook_store_errors_total',
      help: 'Verified events that could not be recorded (answered 5xx, so Stripe retries)',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'paymentsctl_webhook_batch_events',
      help: 'Events recorded per database transaction (group commit: more under load)',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'paymentsctl_webhook_request_duration_seconds',
      help: 'Time to answer a request on the webhook path, by status code',
      labelNames: ['status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
