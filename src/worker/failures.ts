import { StripeGatewayError } from '../stripe/errors.js';
import { ConcurrentPaymentWriteError, PaymentIdentityConflictError } from '../payments/row.js';
import { isDatabaseUnavailable, isSqlState } from '../db/unavailable.js';

/**
 * What a failed message needs:
 * - transient: try again later through the retry topics (Stripe 5xx, timeouts, rate limits);
 * - permanent: no retry can help (a bug or bad data for this message) — dead-letter it now;
 * - infrastructure: our own database or Kafka is unavailable, or a write raced another — retry
 *   the same message in place, without spending its retries, until it works or we stop.
 */
export type FailureKind = 'transient' | 'permanent' | 'infrastructure';

/** An event that cannot be parsed or fails its schema: it goes to the dead letters at once. */
export class InvalidMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMessageError';
  }
}

/** A handler's verdict that this message can never succeed. */
export class PermanentFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentFailure';
  }
}

// SQLSTATEs beyond an unreachable server that say the database, not the message, is the problem:
// serialization failure, deadlock, lock not available, read-only transaction (a failover under way).
const INFRASTRUCTURE_SQLSTATES = new Set(['40001', '40P01', '55P03', '25006']);

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof InvalidMessageError || error instanceof PermanentFailure || error instanceof PaymentIdentityConflictError) {
    return 'permanent';
  }
  if (error instanceof ConcurrentPaymentWriteError) return 'infrastructure';
  if (error instanceof StripeGatewayError) {
    if (error.kind === 'retryable') return 'transient';
    // A rejected key is configuration an operator can fix: keep the payment going round the retries.
    if (error.details.statusCode === 401 || error.details.statusCode === 403) return 'transient';
    return 'permanent';
  }
  if (isDatabaseUnavailable(error)) return 'infrastructure';
  if (isSqlState(error)) return INFRASTRUCTURE_SQLSTATES.has(error.code) ? 'infrastructure' : 'permanent';
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && name.startsWith('KafkaJS')) return 'infrastructure';
  // Unknown errors (a bug included) go round the retries and end in the dead letters with their
  // message, rather than wedging the partition.
  return 'transient';
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
