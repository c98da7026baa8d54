import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { SeededRandom } from '../random.js';

/**
 * The failures the emulator can inject. API faults apply to `/v1/*` requests only — never to the
 * `/_emulator/*` admin endpoints — and webhook faults to deliveries. All rates are 0..1.
 */
export interface FaultConfig {
  /** added to every API response */
  latencyMs: number;
  /** up to this much more, uniformly at random */
  latencyJitterMs: number;
  /** share of API requests answered with `errorStatus` instead of running */
  errorRate: number;
  /**
   * 500: an api_error, stored under the request's Idempotency-Key like Stripe stores its 500s, so a
   * retry with the same key gets the 500 again. 429: a rate_limit error with
   * `Stripe-Should-Retry: true`, never stored (it is refused before idempotency applies).
   */
  errorStatus: 500 | 429;
  /**
   * share of injected 500s that come after the request ran (the work is done, the client sees a
   * 500 — stored and replayed like any 500); the rest fail before anything happens
   */
  errorAfterRunRate: number;
  /** share of API requests that run, then have their connection destroyed without a response */
  resetRate: number;
  /** share of API requests that run, then get no response for `timeoutMs` */
  timeoutRate: number;
  /** how long a timed-out response is held; 0 holds it until the client gives up */
  timeoutMs: number;
  /**
   * Stripe's rate limiter: requests beyond this many in any one second are answered 429
   * (rate_limit, `Stripe-Should-Retry: true`); 0 = no limit. Counted over every /v1 request.
   */
  rateLimitPerSecond: number;
  /** share of webhook deliveries never sent (the event stays pending: `delivery_success=false`) */
  dropRate: number;
  /** share of webhook deliveries sent twice */
  duplicateRate: number;
  /** deliver webhooks shuffled in groups of up to `reorderWindow` instead of in event order */
  reorder: boolean;
  reorderWindow: number;
  /**
   * API requests about these orders — whose `metadata[order_id]` or `metadata[trip_id]` is one of
   * them — are answered 429 (rate_limit, never stored) until the list is cleared: Stripe refusing
   * one merchant's or customer's payments, so that chosen payments run out of retries and are
   * dead-lettered while the others go through. Draws no extra fault.
   */
  refuseOrders: string[];
}

export const DEFAULT_FAULTS: FaultConfig = {
  latencyMs: 0,
  latencyJitterMs: 0,
  errorRate: 0,
  errorStatus: 500,
  errorAfterRunRate: 0,
  resetRate: 0,
  timeoutRate: 0,
  timeoutMs: 0,
  rateLimitPerSecond: 0,
  dropRate: 0,
  duplicateRate: 0,
  reorder: false,
  reorderWindow: 5,
  refuseOrders: [],
};

const rate = z.number().min(0).max(1);
const millis = z.number().int().min(0).max(3_600_000);

const faultSchema = z
  .object({
    latencyMs: millis,
    latencyJitterMs: millis,
    errorRate: rate,
    errorStatus: z.union([z.literal(500), z.literal(429)]),
    errorAfterRunRate: rate,
    resetRate: rate,
    timeoutRate: rate,
    timeoutMs: millis,
    rateLimitPerSecond: z.number().int().min(0).max(10_000),
    dropRate: rate,
    duplicateRate: rate,
    reorder: z.boolean(),
    reorderWindow: z.number().int().min(2).max(100),
    refuseOrders: z.array(z.string().min(1).max(200)).max(10_000),
  })
  .strict()
  .partial();

/** Validates a (partial) fault configuration, e.g. the JSON body of POST /_emulator/faults. */
export function parseFaults(input: unknown): Partial<FaultConfig> {
  const result = faultSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
    throw new UsageError(`invalid fault configuration: ${problems}`, { hint: `known knobs: ${Object.keys(DEFAULT_FAULTS).join(', ')}` });
  }
  return result.data as Partial<FaultConfig>;
}

/** What happens to one API request. */
export interface RequestFaults {
  delayMs: number;
  error: 500 | 429 | null;
  /** with error 500: the request runs first */
  errorAfterRun: boolean;
  /** after the request ran: drop the connection, or hold the response */
  transport: 'reset' | 'timeout' | null;
  /** how long a held response waits; 0 = until the client gives up */
  holdMs: number;
}

/** What happens to one webhook delivery. */
export interface DeliveryFaults {
  drop: boolean;
  duplicate: boolean;
}

/**
 * Draws fault decisions from seeded generators: one for API requests and one for webhooks, so
 * webhook traffic cannot shift which API request fails. Every decision consumes the same number
 * of draws whatever the settings, so the same seed and the same request sequence give the same faults.
 */
export class FaultInjector {
  private current: FaultConfig;
  private refused: ReadonlySet<string>;

  constructor(
    initial: Partial<FaultConfig>,
    private readonly apiRandom: SeededRandom,
    private readonly webhookRandom: SeededRandom,
  ) {
    this.current = { ...DEFAULT_FAULTS, ...parseFaults(initial) };
    this.refused = new Set(this.current.refuseOrders);
  }

  get config(): FaultConfig {
    return { ...this.current, refuseOrders: [...this.current.refuseOrders] };
  }

  update(partial: Partial<FaultConfig>): FaultConfig {
    this.current = { ...this.current, ...parseFaults(partial) };
    this.refused = new Set(this.current.refuseOrders);
    return this.config;
  }

  /** Back to the start of both random sequences (POST /_emulator/reset). */
  restart(): void {
    this.apiRandom.restart();
    this.webhookRandom.restart();
  }

  /** `about`: the order a request's metadata names, if any (for refuseOrders). */
  forRequest(about?: string): RequestFaults {
    const c = this.current;
    const jitter = this.apiRandom.float();
    const error = this.apiRandom.chance(c.errorRate);
    const reset = this.apiRandom.chance(c.resetRate);
    const timeout = this.apiRandom.chance(c.timeoutRate);
    const afterRun = this.apiRandom.chance(c.errorAfterRunRate);
    const delayMs = c.latencyMs + Math.floor(jitter * c.latencyJitterMs);
    if (about !== undefined && this.refused.has(about)) return { delayMs, error: 429, errorAfterRun: false, transport: null, holdMs: 0 };
    return {
      delayMs,
      error: error ? c.errorStatus : null,
      errorAfterRun: error && c.errorStatus === 500 && afterRun,
      transport: reset ? 'reset' : timeout ? 'timeout' : null,
      holdMs: c.timeoutMs,
    };
  }

  forDelivery(): DeliveryFaults {
    const drop = this.webhookRandom.chance(this.current.dropRate);
    const duplicate = this.webhookRandom.chance(this.current.duplicateRate);
    return { drop, duplicate };
  }

  /** The order to send a group of deliveries in: shuffled, and never the original order when it can differ. */
  reorder<T>(items: T[]): T[] {
    const shuffled = this.webhookRandom.shuffle(items);
    if (items.length > 1 && shuffled.every((item, i) => item === items[i])) shuffled.push(shuffled.shift() as T);
    return shuffled;
  }
}
