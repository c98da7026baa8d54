import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// Random bytes drawn 4 KiB at a time: one small randomBytes call per id cost the emulator about a
// twentieth of its CPU under load (each call is a trip into OpenSSL).
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let position = 0;

function nextByte(): number {
  if (position >= pool.length) {
    pool = randomBytes(POOL_SIZE);
    position = 0;
  }
  return pool[position++]!;
}

/** Random base62 text, like the tail of Stripe's ids. Rejection sampling keeps it unbiased. */
export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = nextByte();
    if (byte >= 248) continue; // 248 = 62 * 4: larger bytes would favour the first letters
    out += ALPHABET[byte % 62];
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
