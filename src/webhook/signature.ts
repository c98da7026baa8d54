import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stripe's webhook signature scheme: the `Stripe-Signature` header is `t=<unix seconds>` plus one
 * or more `v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (several while Stripe rolls a secret), keyed
 * with the whole `whsec_…` secret. Other schemes (`v0` is Stripe's test-mode scheme) never count.
 */

export type SignatureFailure =
  /** no Stripe-Signature header at all */
  | 'missing_header'
  /** a header that is not `t=…,v1=…` (no timestamp, not a number, garbage) */
  | 'malformed_header'
  /** a well-formed header without any `v1` signature (e.g. only `v0`) */
  | 'no_v1_signature'
  /** no `v1` matches any configured secret */
  | 'bad_signature'
  /** signed correctly, but the timestamp is further than the tolerance from now, either way */
  | 'stale_timestamp';

export type SignatureCheck = { ok: true; timestamp: number; secretIndex: number } | { ok: false; reason: SignatureFailure };

export interface VerifyOptions {
  /** accepted distance between the header's timestamp and now, in seconds, in the past or the future */
  toleranceSeconds: number;
  /** unix seconds; default the clock */
  nowSeconds?: number;
}

interface ParsedHeader {
  timestamp: number;
  /** the raw `t` text: the signed payload starts with it exactly as sent */
  timestampText: string;
  v1: Buffer[];
}

// A header with thousands of entries is an attack on our CPU, not a rotation.
const MAX_HEADER_LENGTH = 8 * 1024;
const MAX_V1_SIGNATURES = 16;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

export function parseSignatureHeader(header: string): ParsedHeader | SignatureFailure {
  if (header.length > MAX_HEADER_LENGTH) return 'malformed_header';
  let timestampText: string | undefined;
  const v1: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      // Two timestamps make "which one was signed" ambiguous.
      if (timestampText !== undefined) return 'malformed_header';
      timestampText = value;
    } else if (key === 'v1') {
      // A value that cannot be a SHA-256 digest cannot match; it is skipped, not fatal, as Stripe does.
      if (SHA256_HEX.test(value) && v1.length < MAX_V1_SIGNATURES) v1.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestampText === undefined || !/^\d{1,12}$/.test(timestampText)) return 'malformed_header';
  if (v1.length === 0) return 'no_v1_signature';
  return { timestamp: Number(timestampText), timestampText, v1 };
}

function expectedSignature(secret: string, timestampText: string, rawBody: Buffer): Buffer {
  // Over the bytes exactly as received: re-encoding a parsed body could change them.
  return createHmac('sha256', secret).update(`${timestampText}.`, 'utf8').update(rawBody).digest();
}

/**
 * Checks a delivery against every configured secret (rotation: old and new both valid during the
 * overlap) and every `v1` entry, comparing in constant time. The signature is checked before the
 * timestamp, so `stale_timestamp` is only ever reported for a request Stripe really signed.
 */
export function verifySignature(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  options: VerifyOptions,
): SignatureCheck {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing_header' };
  const parsed = parseSignatureHeader(header);
  if (typeof parsed === 'string') return { ok: false, reason: parsed };
  let matched = -1;
  for (let i = 0; i < secrets.length; i++) {
    const expected = expectedSignature(secrets[i]!, parsed.timestampText, rawBody);
    // Every candidate is compared, match or not, so timing says nothing about which one matched.
    for (const candidate of parsed.v1) {
      if (timingSafeEqual(expected, candidate) && matched < 0) matched = i;
    }
  }
  if (matched < 0) return { ok: false, reason: 'bad_signature' };
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - parsed.timestamp) > options.toleranceSeconds) return { ok: false, reason: 'stale_timestamp' };
  return { ok: true, timestamp: parsed.timestamp, secretIndex: matched };
}

/** A `Stripe-Signature` header for `payload` (tests, benchmarks, and replaying a stored event by hand). */
export function signPayload(payload: string | Buffer, secret: string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  const raw = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return `t=${timestampSeconds},v1=${expectedSignature(secret, String(timestampSeconds), raw).toString('hex')}`;
}
