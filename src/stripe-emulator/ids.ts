import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random base62 text, like the tail of Stripe's ids. Rejection sampling keeps it unbiased. */
export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue; // 248 = 62 * 4: larger bytes would favour the first letters
      out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** The id prefixes Stripe uses for the objects the emulator knows. */
export const ID_PREFIX = {
  paymentIntent: 'pi_',
  charge: 'ch_',
  refund: 're_',
  checkoutSession: 'cs_test_',
  event: 'evt_',
  webhookEndpoint: 'we_',
  request: 'req_',
  lineItem: 'li_',
} as const;

export function newId(prefix: string, length = 24): string {
  return `${prefix}${randomToken(length)}`;
}

/** A webhook signing secret in Stripe's format. */
export function newWebhookSecret(): string {
  return `whsec_${randomToken(32)}`;
}
