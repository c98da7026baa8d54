import Stripe from 'stripe';
import { ConfigError } from '../errors.js';

export interface StripeClientOptions {
  apiKey: string;
  /** e.g. http://127.0.0.1:12111 for the emulator; default Stripe's API */
  apiBase?: string;
  timeoutMs?: number;
  /** the SDK's own quick retries of network errors and 409/5xx that Stripe marks retryable */
  maxNetworkRetries?: number;
  /** replaces the SDK's HTTP client, e.g. a RateLimitedHttpClient around Stripe.createNodeHttpClient() */
  httpClient?: Stripe.HttpClient;
}

/** The official SDK, pointed at Stripe or at any stand-in given by STRIPE_API_BASE. */
export function createStripeClient(options: StripeClientOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  if (base && base.pathname !== '/' && base.pathname !== '') {
    throw new ConfigError(
      'STRIPE_API_BASE',
      `STRIPE_API_BASE must be a bare origin such as http://127.0.0.1:12111, got ${options.apiBase}`,
    );
  }
  return new Stripe(options.apiKey, {
    ...(base
      ? {
          host: base.hostname,
          port: base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80,
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
    timeout: options.timeoutMs ?? 20_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    telemetry: false,
    ...(options.httpClient ? { httpClient: options.httpClient } : {}),
    appInfo: { name: 'paymentsctl' },
  });
}
