/**
 * A stateful stand-in for the Stripe API that the unmodified official SDKs work against:
 * PaymentIntents, Checkout Sessions, Refunds, Events and webhook endpoints, with signed webhook
 * deliveries, Stripe's idempotency rules, and injectable faults. See `paymentsctl stripe-emulator --help`.
 */
export { startStripeEmulator, DEFAULT_EMULATOR_PORT, type EmulatorOptions, type RunningEmulator } from './server.js';
export { DEFAULT_FAULTS, parseFaults, type FaultConfig } from './faults.js';
export { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy, type DeliveryRecord } from './webhook-delivery.js';
export type { ChargeReport, ChargeGroup } from './inspection.js';
export { EVENT_TYPES, type EventType } from './event-log.js';
export { knownPaymentMethodIds } from './payment-methods.js';
