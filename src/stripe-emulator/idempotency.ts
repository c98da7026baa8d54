import { invalidRequest, StripeApiError } from './errors.js';

/**
 * Idempotent requests as Stripe documents them (https://docs.stripe.com/api/idempotent_requests):
 * the first response to a POST with an `Idempotency-Key` is saved — whatever it was, 500s
 * included — and replayed for the same key; a different request under the same key is refused;
 * a second request while the first still runs gets a 409. Responses to requests that failed
 * validation or authentication are not saved, so a corrected retry can reuse the key. Keys are
 * scoped to the account — the emulator is one account, whatever test key a client uses, so two
 * workers with different keys share them — and forgotten after 24 hours.
 */

export interface StoredResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** the Request-Id of the request that produced it; replays send it as Original-Request */
  requestId: string;
}

interface Entry {
  /** method, path and canonical parameters: what "the same request" means */
  fingerprint: string;
  endpoint: string;
  response: StoredResponse | null;
  storedAt: number;
}

export type IdempotencyOutcome =
  { kind: 'proceed'; finish: (response: StoredResponse | null) => void } | { kind: 'replay'; response: StoredResponse };

const RETENTION_MS = 24 * 3600 * 1000;
const MAX_KEY_LENGTH = 255;

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  /**
   * Claims `key` for this request, or says what to answer instead. Throws the 400/409 Stripe
   * sends for a reused or busy key. `finish(response)` saves the response; `finish(null)`
   * releases the key without saving (validation failures).
   */
  begin(apiKey: string, key: string, request: { method: string; path: string; params: unknown }): IdempotencyOutcome {
    if (key.length > MAX_KEY_LENGTH) {
      throw invalidRequest(`Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters long.`, { param: 'Idempotency-Key' });
    }
    this.forgetExpired();
    void apiKey; // one account: every test key shares the key space
    const scoped = key;
    const endpoint = `${request.method} ${request.path}`;
    const fingerprint = `${endpoint}\u0000${canonicalJson(request.params)}`;
    const existing = this.entries.get(scoped);
    if (existing) {
      if (existing.endpoint !== endpoint) {
        throw idempotencyError(
          `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.endpoint}' vs '${endpoint}'). ` +
            `Try using a key other than '${key}' if you meant to execute a different request.`,
        );
      }
      if (existing.fingerprint !== fingerprint) {
        throw idempotencyError(
          `Keys for idempotent requests can only be used with the same parameters they were first used with. ` +
            `Try using a key other than '${key}' if you meant to execute a different request.`,
        );
      }
      if (existing.response === null) {
        throw new StripeApiError(409, {
          type: 'invalid_request_error',
          code: 'idempotency_key_in_use',
          message:
            'There is currently another in-progress request using this Idempotency-Key (that probably means you submitted twice, ' +
            'and the other request is still going through): ' +
            `${key}. Please try again later.`,
        });
      }
      return { kind: 'replay', response: existing.response };
    }
    const entry: Entry = { fingerprint, endpoint, response: null, storedAt: Date.now() };
    this.entries.set(scoped, entry);
    return {
      kind: 'proceed',
      finish: (response) => {
        if (this.entries.get(scoped) !== entry) return; // cleared by a reset meanwhile
        if (response === null) this.entries.delete(scoped);
        else {
          entry.response = response;
          entry.storedAt = Date.now();
        }
      },
    };
  }

  clear(): void {
    this.entries.clear();
  }

  private forgetExpired(): void {
    // Entries sit in roughly the order they were stored: stop at the first one still fresh.
    const cutoff = Date.now() - RETENTION_MS;
    for (const [key, entry] of this.entries) {
      if (entry.storedAt >= cutoff) break;
      if (entry.response !== null) this.entries.delete(key);
    }
  }
}

function idempotencyError(message: string): StripeApiError {
  return new StripeApiError(400, { type: 'idempotency_error', message });
}

/** JSON with object keys sorted, so parameter order does not make two requests differ. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether Stripe would save this response: not for invalid requests (4xx other than card errors). */
export function isSavedForIdempotency(status: number): boolean {
  return status < 400 || status === 402 || status >= 500;
}
