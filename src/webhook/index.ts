/**
 * The Stripe webhook receiver behind `paymentsctl webhook-serve`: signature verification, the
 * event → pipeline mapping, the durable store, and the HTTP server.
 */
export {
  verifySignature,
  parseSignatureHeader,
  signPayload,
  type SignatureCheck,
  type SignatureFailure,
  type VerifyOptions,
} from './signature.js';
export {
  planEvent,
  parseStripeEvent,
  pipelineEvent,
  missingMetadata,
  HANDLED_EVENT_TYPES,
  REQUIRED_TRIP_METADATA,
  OUTCOME_TOPICS,
  type StripeEvent,
  type EventPlan,
  type PaymentChange,
  type IgnoredOutcome,
  type WebhookPaymentCompleted,
  type WebhookPaymentRefunded,
} from './mapping.js';
export { recordWebhookEvent, eventIdFor, type RecordResult, type StoredOutcome } from './store.js';
export { GroupCommitStore, type GroupCommitOptions } from './batcher.js';
export { WebhookReceiver, type ReceiverOptions, type WebhookAnswer, type EventRecorder } from './receiver.js';
export { createWebhookMetrics, type WebhookMetrics, type RejectReason } from './metrics.js';
export { startWebhookServer, type WebhookServerOptions, type RunningWebhookServer } from './server.js';
export {
  startWebhookService,
  WebhookService,
  WEBHOOK_DEFAULTS,
  type WebhookServiceOptions,
  type RunningWebhookService,
} from './service.js';
