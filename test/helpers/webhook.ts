import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import type { StripeGateway } from '../../src/stripe/gateway.js';
import { spawnRole, type RoleProcess } from './roles.js';

// Signing goes through Stripe's own SDK, never through the receiver's code under test.
const sdk = new Stripe('sk_test_webhook_helpers');

/** A `Stripe-Signature` header as Stripe makes it (`t=…,v1=…`), for `payload` at `timestamp` (unix seconds). */
export function stripeSignature(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return sdk.webhooks.generateTestHeaderString({ payload, secret, timestamp });
}

export function eventId(): string {
  return `evt_test_${randomBytes(12).toString('hex')}`;
}

/** A Stripe Event envelope around `object`, as Stripe POSTs it. */
export function stripeEvent(type: string, object: Record<string, unknown>, id = eventId()): Record<string, unknown> {
  return {
    id,
    object: 'event',
    api_version: '2025-01-27.acacia',
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

export function checkoutSession(
  fields: {
    metadata?: Record<string, string>;
    paymentIntent?: string | null;
    paymentStatus?: string;
    amount?: number;
    id?: string;
    status?: string;
  } = {},
) {
  return {
    id: fields.id ?? `cs_test_${randomBytes(10).toString('hex')}`,
    object: 'checkout.session',
    amount_total: fields.amount ?? 2500,
    currency: 'usd',
    metadata: fields.metadata ?? {},
    mode: 'payment',
    payment_intent: fields.paymentIntent === undefined ? `pi_${randomBytes(10).toString('hex')}` : fields.paymentIntent,
    payment_status: fields.paymentStatus ?? 'paid',
    status: fields.status ?? 'complete',
  };
}

export function paymentIntent(
  fields: {
    id?: string;
    metadata?: Record<string, string>;
    amount?: number;
    status?: string;
    lastPaymentError?: Record<string, string> | null;
  } = {},
) {
  const amount = fields.amount ?? 1999;
  const succeeded = (fields.status ?? 'succeeded') === 'succeeded';
  return {
    id: fields.id ?? `pi_${randomBytes(10).toString('hex')}`,
    object: 'payment_intent',
    amount,
    amount_received: succeeded ? amount : 0,
    currency: 'usd',
    latest_charge: `ch_${randomBytes(8).toString('hex')}`,
    metadata: fields.metadata ?? {},
    status: fields.status ?? 'succeeded',
    last_payment_error: fields.lastPaymentError ?? null,
  };
}

export function charge(fields: { paymentIntent: string; metadata?: Record<string, string>; amount?: number; refunded?: number }) {
  const amount = fields.amount ?? 1999;
  const refunded = fields.refunded ?? amount;
  return {
    id: `ch_${randomBytes(8).toString('hex')}`,
    object: 'charge',
    amount,
    amount_refunded: refunded,
    currency: 'usd',
    metadata: fields.metadata ?? {},
    payment_intent: fields.paymentIntent,
    refunded: refunded >= amount,
    status: 'succeeded',
  };
}

export interface WebhookReply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POSTs `body` to the receiver with the given headers (none added but the content type). */
export async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<WebhookReply> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Signs `event` with `secret` and POSTs it, as Stripe delivers. */
export async function deliver(url: string, event: Record<string, unknown>, secret: string, timestamp?: number): Promise<WebhookReply> {
  const payload = JSON.stringify(event, null, 2);
  return post(url, payload, { 'stripe-signature': stripeSignature(payload, secret, timestamp) });
}

export interface WebhookServeProcess extends RoleProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  stop: (signal?: NodeJS.Signals) => Promise<{ exitCode: number | undefined }>;
}

/**
 * Runs `paymentsctl webhook-serve` as its own process on a free port, the way it runs in a
 * container; /healthz, /readyz and /metrics are on the webhook port unless `args` has --metrics-port.
 */
export async function startWebhookServe(env: Record<string, string>, args: string[] = []): Promise<WebhookServeProcess> {
  const role = await spawnRole(['webhook-serve', '--host', '127.0.0.1', '--port', '0', ...args], env, { extendEnv: false });
  // Logged before it was ready: the webhook listener's own port.
  const listening = role
    .output()
    .split('\n')
    .find((line) => line.includes('webhook-serve listening'));
  const port = (JSON.parse(listening ?? '{}') as { port?: number }).port ?? role.metricsPort;
  return {
    ...role,
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async (signal = 'SIGTERM') => {
      role.process.kill(signal);
      const result = await role.process;
      return { exitCode: result.exitCode };
    },
  };
}

/** A Checkout Session for a 25.00 trip, completed by the customer on the emulator's hosted page with `outcome`. */
export async function completedCheckout(
  gateway: StripeGateway,
  emulatorUrl: string,
  tripId: string,
  outcome: 'paid' | 'async_succeeded' | 'async_failed',
) {
  const session = await gateway.createCheckoutSession({
    tripId,
    amount: 2500,
    currency: 'usd',
    productName: `Trip ${tripId}`,
    successUrl: 'https://rides.example/paid',
    cancelUrl: 'https://rides.example/cancelled',
    metadata: { user_id: `rider-of-${tripId}`, driver_id: `driver-of-${tripId}` },
  });
  const response = await fetch(`${emulatorUrl}/_emulator/checkout/sessions/${session.sessionId}/complete`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome }),
  });
  if (response.status !== 200) throw new Error(`completing ${session.sessionId} answered ${response.status}: ${await response.text()}`);
  return session;
}
