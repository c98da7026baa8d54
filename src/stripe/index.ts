import { stripeApiBase, stripeApiKey } from '../config.js';
import { createStripeClient } from './client.js';
import { StripeGateway } from './gateway.js';

export * from './errors.js';
export * from './gateway.js';
export { createStripeClient } from './client.js';
export * from './listing.js';
export * from './rate-limit.js';

/** The gateway from configuration: STRIPE_API_KEY (alias STRIPE_KEY) and STRIPE_API_BASE. */
export function stripeGatewayFromConfig(
  flags: object = {},
  env: NodeJS.ProcessEnv = process.env,
  client: { timeoutMs?: number } = {},
): StripeGateway {
  return new StripeGateway(createStripeClient({ apiKey: stripeApiKey(flags, env), apiBase: stripeApiBase(flags, env), ...client }));
}
