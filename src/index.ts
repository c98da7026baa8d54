/**
 * Library entry point: what applications and operators' scripts import.
 */
export * from './errors.js';
export { SETTINGS, databaseUrl, kafkaBrokers, stripeApiKey, stripeApiBase, webhookSecrets, topicPrefix } from './config.js';
export { createLogger, type Logger, type LogLevel } from './log.js';
export { redact } from './redact.js';
export { loadMigrations, type MigrationFile } from './migrate/files.js';
export { migrateDatabase, migrateDatabases, HISTORY_TABLE, type MigrationReport, type MigrateOptions } from './migrate/migrator.js';
export { Topics, InboxConsumers, type Topic } from './contracts.js';
export { CONSUMED_TOPICS, DEFAULT_RETRY_DELAYS_MS, retryTopic, deadLetterTopic, plannedTopics, type TopicSpec } from './kafka/topics.js';
export { ensurePipelineTopics } from './kafka/ensure.js';
export { createKafka } from './kafka/client.js';
export { stackUp, stackDown, stackStatus, stackEnv, type StackInfo, type StackStatus } from './stack/stack.js';
export { enqueue, enqueueMany, type OutboxMessage, type Queryable } from './outbox/enqueue.js';
export { OutboxPublisher, PUBLISHER_DEFAULTS, type PublisherOptions } from './outbox/publisher.js';
export { PUBLISHER_HEADER, TERM_HEADER } from './outbox/envelope.js';
export {
  StripeGateway,
  StripeGatewayError,
  IdempotencyKey,
  classifyStripeError,
  createStripeClient,
  stripeGatewayFromConfig,
  type StripeFailureKind,
  type ChargeRequest,
  type ChargeOutcome,
  type CheckoutRequest,
  type CheckoutSession,
  type RefundRequest,
} from './stripe/index.js';
export { startStripeEmulator, type EmulatorOptions, type RunningEmulator, type FaultConfig } from './stripe-emulator/index.js';
export { startWebhookService, WEBHOOK_DEFAULTS, type WebhookServiceOptions, type RunningWebhookService } from './webhook/service.js';
export { verifySignature, signPayload, type SignatureCheck } from './webhook/signature.js';
export { planEvent, type EventPlan } from './webhook/mapping.js';
export { PaymentsWorker, type WorkerOptions } from './worker/worker.js';
export { FailureHeaders } from './worker/headers.js';
export {
  orderPlacedSchema,
  checkoutRequestedSchema,
  type OrderPlaced,
  type CheckoutRequested,
  type PaymentCompleted,
  type PaymentFailed,
  type OrderCancelled,
  type PaymentRefunded,
  type CheckoutSessionCreated,
} from './payments/events.js';
export { canTransition, isTerminal, type PaymentStatus } from './payments/status.js';
export {
  transactionHistory,
  DEFAULT_HISTORY_LIMIT,
  MAX_HISTORY_LIMIT,
  type HistoryPage,
  type HistoryItem,
  type HistoryQuery,
} from './payments/history.js';
export { HistoryService, HISTORY_PATH, type HistoryServiceOptions } from './history/service.js';
