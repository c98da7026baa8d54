import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { redact } from '../redact.js';
import type { EventSink } from './event-log.js';
import type { FaultInjector } from './faults.js';
import type { EventObject } from './objects.js';
import { signatureHeader } from './webhook-signature.js';

/** Somewhere events are POSTed: a `--webhook-url`, or an endpoint registered through the API. */
export interface WebhookTarget {
  id: string;
  url: string;
  secret: string;
  /** event types to send; `*` for all */
  enabledEvents: readonly string[];
}

export interface WebhookRetryPolicy {
  /** wait before the first retry; doubles for each further one */
  initialDelayMs: number;
  maxDelayMs: number;
  /** attempts in all, the first included */
  maxAttempts: number;
  /** a receiver that has not answered by then has failed this attempt */
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetryPolicy = { initialDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 8, timeoutMs: 10_000 };

/** One event for one target, as GET /_emulator/webhooks reports it. */
export interface DeliveryRecord {
  event: string;
  type: string;
  endpoint: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed' | 'dropped';
  attempts: number;
  /** extra copies sent by the duplicate fault */
  duplicates: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

interface Delivery {
  record: DeliveryRecord;
  event: EventObject;
  target: WebhookTarget;
  duplicate: boolean;
  generation: number;
}

interface TargetQueue {
  /** first attempts run one after another, so events arrive in order unless a fault reorders them */
  chain: Promise<void>;
  /** deliveries held back to be shuffled together (reorder fault) */
  held: Delivery[];
  flushTimer: NodeJS.Timeout | undefined;
}

/** How long a reorder group waits for more events before it is sent anyway. */
const REORDER_FLUSH_MS = 25;
const USER_AGENT = 'Stripe/1.0 (+https://stripe.com/docs/webhooks)';

/**
 * Delivers events to webhook endpoints the way Stripe does: a signed JSON POST, success on any
 * 2xx, retries with exponential backoff on anything else or on a network error, and the event's
 * `pending_webhooks` counting the endpoints still waiting for it. Never blocks an API response.
 */
export class WebhookDispatcher implements EventSink {
  private readonly queues = new Map<string, TargetQueue>();
  private records: DeliveryRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  /** bumped by reset(): work left over from before is dropped instead of retried */
  private generation = 0;

  constructor(
    private readonly options: {
      targets: () => WebhookTarget[];
      faults: FaultInjector;
      retry: WebhookRetryPolicy;
      log: Logger;
    },
  ) {}

  dispatch(event: EventObject): number {
    const targets = this.options.targets().filter((t) => t.enabledEvents.includes('*') || t.enabledEvents.includes(event.type));
    for (const target of targets) {
      const faults = this.options.faults.forDelivery();
      const record: DeliveryRecord = {
        event: event.id,
        type: event.type,
        endpoint: target.id,
        url: target.url,
        status: faults.drop ? 'dropped' : 'pending',
        attempts: 0,
        duplicates: 0,
        lastStatusCode: null,
        lastError: null,
      };
      this.records.push(record);
      if (faults.drop) {
        this.options.log.debug({ event: event.id, type: event.type, endpoint: target.id }, 'webhook dropped (fault)');
        continue;
      }
      this.push({ record, event, target, duplicate: faults.duplicate, generation: this.generation });
    }
    return targets.length;
  }

  /**
   * One more attempt of `event` to `target` now, as POST /v1/events/:id/retry asks (a manual
   * retry: one attempt, no backoff schedule behind it). Its record — a dropped or failed one
   * included — becomes delivered when the endpoint answers 2xx, and `pending_webhooks` counts it.
   */
  redeliver(event: EventObject, target: WebhookTarget): void {
    let record = this.records.find((r) => r.event === event.id && r.endpoint === target.id);
    // Still pending: its own retries go on, and a failed manual attempt leaves it to them.
    const retriesPending = record?.status === 'pending';
    if (!record) {
      record = {
        event: event.id,
        type: event.type,
        endpoint: target.id,
        url: target.url,
        status: 'pending',
        attempts: 0,
        duplicates: 0,
        lastStatusCode: null,
        lastError: null,
      };
      this.records.push(record);
      event.pending_webhooks++;
    }
    const delivery: Delivery = { record, event, target, duplicate: false, generation: this.generation };
    const found = record;
    void this.track(
      (async () => {
        found.attempts++;
        const result = await this.send(delivery);
        if (delivery.generation !== this.generation) return;
        found.lastStatusCode = result.statusCode;
        found.lastError = result.error;
        if (result.ok && found.status !== 'delivered') {
          found.status = 'delivered';
          event.pending_webhooks = Math.max(0, event.pending_webhooks - 1);
        } else if (!result.ok && !retriesPending && found.status !== 'delivered') {
          found.status = 'failed';
        }
      })(),
    );
  }

  deliveries(): DeliveryRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Forgets every delivery and stops retrying (POST /_emulator/reset). */
  reset(): void {
    this.generation++;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const queue of this.queues.values()) clearTimeout(queue.flushTimer);
    this.queues.clear();
    this.records = [];
  }

  async close(): Promise<void> {
    this.reset();
    this.shutdown.abort(new Error('emulator closing'));
    await Promise.allSettled([...this.inFlight]);
  }

  private queueOf(target: WebhookTarget): TargetQueue {
    let queue = this.queues.get(target.id);
    if (!queue) {
      queue = { chain: Promise.resolve(), held: [], flushTimer: undefined };
      this.queues.set(target.id, queue);
    }
    return queue;
  }

  private push(delivery: Delivery): void {
    const queue = this.queueOf(delivery.target);
    const faults = this.options.faults.config;
    if (!faults.reorder) return this.enqueue(queue, [delivery]);
    queue.held.push(delivery);
    if (queue.held.length >= faults.reorderWindow) this.flush(queue);
    else queue.flushTimer ??= setTimeout(() => this.flush(queue), REORDER_FLUSH_MS);
  }

  private flush(queue: TargetQueue): void {
    clearTimeout(queue.flushTimer);
    queue.flushTimer = undefined;
    const group = this.options.faults.reorder(queue.held);
    queue.held = [];
    this.enqueue(queue, group);
  }

  private enqueue(queue: TargetQueue, deliveries: Delivery[]): void {
    for (const delivery of deliveries) {
      queue.chain = queue.chain.then(async () => {
        await this.track(this.attempt(delivery));
        if (delivery.duplicate && delivery.generation === this.generation) {
          delivery.record.duplicates++;
          await this.track(this.send(delivery).then(() => undefined));
        }
      });
    }
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  /** One attempt; on failure schedules the next one, or gives up after maxAttempts. */
  private async attempt(delivery: Delivery): Promise<void> {
    const { record, event } = delivery;
    if (delivery.generation !== this.generation || this.shutdown.signal.aborted) return;
    record.attempts++;
    const result = await this.send(delivery);
    record.lastStatusCode = result.statusCode;
    record.lastError = result.error;
    if (delivery.generation !== this.generation) return;
    if (result.ok) {
      if (record.status !== 'delivered') {
        record.status = 'delivered';
        event.pending_webhooks = Math.max(0, event.pending_webhooks - 1);
      }
      return;
    }
    const log = this.options.log;
    const context = {
      event: event.id,
      type: event.type,
      endpoint: delivery.target.id,
      attempt: record.attempts,
      status: result.statusCode,
      error: result.error,
    };
    if (this.shutdown.signal.aborted) return;
    const { initialDelayMs, maxDelayMs, maxAttempts } = this.options.retry;
    if (record.attempts >= maxAttempts) {
      record.status = 'failed';
      log.warn(context, 'webhook delivery failed; giving up');
      return;
    }
    const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** (record.attempts - 1));
    log.debug({ ...context, retryInMs: delayMs }, 'webhook delivery failed; will retry');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.track(this.attempt(delivery));
    }, delayMs);
    this.timers.add(timer);
  }

  private async send(delivery: Delivery): Promise<{ ok: boolean; statusCode: number | null; error: string | null }> {
    const payload = JSON.stringify(delivery.event, null, 2);
    // Signed with the real clock: receivers compare the timestamp with their own.
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const response = await fetch(delivery.target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': USER_AGENT,
          'stripe-signature': signatureHeader(payload, delivery.target.secret, timestamp),
        },
        body: payload,
        signal: AbortSignal.any([AbortSignal.timeout(this.options.retry.timeoutMs), this.shutdown.signal]),
      });
      await response.arrayBuffer().catch(() => undefined);
      const ok = response.status >= 200 && response.status < 300;
      this.options.log.debug(
        { event: delivery.event.id, type: delivery.event.type, url: redact(delivery.target.url), status: response.status },
        'webhook sent',
      );
      return { ok, statusCode: response.status, error: ok ? null : `HTTP ${response.status}` };
    } catch (error) {
      return { ok: false, statusCode: null, error: redact(describeFailure(error)) };
    }
  }
}

/** fetch reports "fetch failed" and hides the reason (ECONNREFUSED, a timeout…) in `cause`. */
function describeFailure(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause === undefined ? errorMessage(error) : `${errorMessage(error)}: ${errorMessage(cause)}`;
}
