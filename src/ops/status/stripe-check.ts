import { createStripeClient } from '../../stripe/index.js';
import { errorMessage } from '../../errors.js';
import { redact } from '../../redact.js';
import type { StripeReport } from './report.js';

export interface StripeTarget {
  apiKey: string;
  apiBase?: string;
}

/** Test or live from the key's prefix; the key itself never leaves this function. */
export function stripeMode(apiKey: string): StripeReport['mode'] {
  if (/^(sk|rk)_test_/.test(apiKey)) return 'test';
  if (/^(sk|rk)_live_/.test(apiKey)) return 'live';
  return 'unknown';
}

/** One cheap read (the newest PaymentIntent), no retries: is Stripe there, and does it take the key? */
export async function checkStripe(target: StripeTarget | undefined, timeoutMs = 5_000): Promise<StripeReport> {
  if (!target) return { configured: false, reachable: null, mode: null };
  const mode = stripeMode(target.apiKey);
  try {
    const stripe = createStripeClient({ apiKey: target.apiKey, apiBase: target.apiBase, timeoutMs, maxNetworkRetries: 0 });
    await stripe.paymentIntents.list({ limit: 1 });
    return { configured: true, reachable: true, mode };
  } catch (error) {
    return { configured: true, reachable: false, mode, error: redact(errorMessage(error)) };
  }
}
