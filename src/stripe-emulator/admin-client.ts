import { UnavailableError } from '../errors.js';
import type { CheckoutOutcome } from './checkout-sessions.js';
import type { FaultConfig } from './faults.js';
import type { ChargeReport } from './inspection.js';
import type { RequestStats } from './request-meter.js';
import type { DeliveryRecord } from './webhook-delivery.js';

/**
 * A client for a running emulator's /_emulator endpoints (no API key, never faulted): what a
 * harness uses to steer it and to read what it charged.
 */
export class EmulatorAdminClient {
  constructor(
    readonly apiBase: string,
    private readonly timeoutMs = 10_000,
  ) {}

  faults(): Promise<FaultConfig> {
    return this.request('GET', '/_emulator/faults');
  }

  setFaults(faults: Partial<FaultConfig>): Promise<FaultConfig> {
    return this.request('POST', '/_emulator/faults', faults);
  }

  charges(): Promise<ChargeReport> {
    return this.request('GET', '/_emulator/charges');
  }

  /** /v1 requests received, refused by the rate limit, and the busiest second */
  requests(): Promise<RequestStats> {
    return this.request('GET', '/_emulator/requests');
  }

  resetRequests(): Promise<RequestStats> {
    return this.request('DELETE', '/_emulator/requests');
  }

  /** every webhook delivery so far, with its status (pending, delivered, failed, dropped) */
  async deliveries(): Promise<DeliveryRecord[]> {
    return (await this.request<{ deliveries: DeliveryRecord[] }>('GET', '/_emulator/webhooks')).deliveries;
  }

  /** What a customer does on the hosted page; `async_*` settle after `settleAfterMs`. */
  completeCheckoutSession(sessionId: string, outcome: CheckoutOutcome, settleAfterMs = 0): Promise<unknown> {
    return this.request('POST', `/_emulator/checkout/sessions/${encodeURIComponent(sessionId)}/complete`, { outcome, settleAfterMs });
  }

  private async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.apiBase}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new UnavailableError(`the Stripe emulator at ${this.apiBase} did not answer ${method} ${path}`, { cause: error });
    }
    const payload = (await response.json().catch(() => ({}))) as T & { error?: { message?: string } };
    if (!response.ok) {
      throw new EmulatorAdminError(response.status, `${method} ${path}: ${payload.error?.message ?? `HTTP ${response.status}`}`);
    }
    return payload;
  }
}

export class EmulatorAdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorAdminError';
  }
}
