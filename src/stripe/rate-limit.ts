import type Stripe from 'stripe';

/**
 * Keeps a client under a request rate and rides out Stripe's 429s: every HTTP request the SDK
 * makes — auto-pagination's pages included — waits for its slot, and a 429 is retried after a
 * growing pause (Retry-After when Stripe gives one) before the SDK ever sees it. Stripe allows
 * 25 requests/s per endpoint in test mode and 100 in live mode; reconciliation reads stay below
 * so that the pipeline's own calls keep their share.
 */

export interface RateLimitOptions {
  /** requests per second at most (any one-second span) */
  perSecond: number;
  /** 429s retried per request before the SDK gets the 429 */
  maxRateLimitRetries?: number;
  /** first back-off after a 429; doubles up to maxBackoffMs */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** What a rate-limited client did so far: what a report shows. */
export interface RateLimitStats {
  requests: number;
  rateLimited: number;
  waitedMs: number;
}

export class RateLimitedHttpClient implements Stripe.HttpClient {
  readonly stats: RateLimitStats = { requests: 0, rateLimited: 0, waitedMs: 0 };
  private readonly intervalMs: number;
  private lastSentAt = -Infinity;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly inner: Stripe.HttpClient,
    private readonly options: RateLimitOptions,
  ) {
    if (!(options.perSecond > 0)) throw new RangeError('perSecond must be positive');
    this.intervalMs = 1000 / options.perSecond;
  }

  getClientName(): string {
    return `${this.inner.getClientName()}+rate-limit`;
  }

  async makeRequest(...args: Parameters<Stripe.HttpClient['makeRequest']>): Promise<Stripe.HttpClientResponse> {
    const maxRetries = this.options.maxRateLimitRetries ?? 8;
    for (let attempt = 0; ; attempt++) {
      await this.slot();
      const response = await this.inner.makeRequest(...args);
      if (response.getStatusCode() !== 429 || attempt >= maxRetries) return response;
      this.stats.rateLimited++;
      response.dispose?.();
      await this.pause(backoffMs(attempt, response.getHeaders()['retry-after'], this.options));
    }
  }

  /**
   * Requests leave one at a time, at least 1/perSecond apart, measured from when the previous one
   * actually left (a late timer never lets two leave closer together).
   */
  private slot(): Promise<void> {
    const turn = this.queue.then(async () => {
      const wait = this.lastSentAt + this.intervalMs - performance.now();
      if (wait > 0) await this.pause(wait);
      this.lastSentAt = performance.now();
      this.stats.requests++;
    });
    this.queue = turn;
    return turn;
  }

  private pause(ms: number): Promise<void> {
    this.stats.waitedMs += ms;
    return new Promise((resolve) => setTimeout(resolve, Math.ceil(ms)));
  }
}

/** The pause before retrying a 429: Retry-After seconds if given, else exponential with jitter. */
export function backoffMs(
  attempt: number,
  retryAfter: unknown,
  options: Pick<RateLimitOptions, 'initialBackoffMs' | 'maxBackoffMs'>,
): number {
  const max = options.maxBackoffMs ?? 8_000;
  const seconds = typeof retryAfter === 'string' ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(max, seconds * 1000);
  const base = Math.min(max, (options.initialBackoffMs ?? 250) * 2 ** attempt);
  // Half fixed, half random: clients backing off together do not come back together.
  return base / 2 + Math.random() * (base / 2);
}
