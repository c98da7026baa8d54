import type { Clock } from './clock.js';
import type { EventLog } from './event-log.js';
import type { EmulatorStore } from './store.js';
import type { WebhookTarget } from './webhook-delivery.js';

/** What the resource modules share: the objects, the clock, the event log, and our own address. */
export interface EmulatorContext {
  store: EmulatorStore;
  clock: Clock;
  events: EventLog;
  /** http://host:port of this emulator, for URLs it hands out (Checkout pages) */
  baseUrl(): string;
  /** the endpoints events go to now (`--webhook-url` ones and those registered through the API) */
  webhookTargets(): WebhookTarget[];
  /** one more delivery attempt of an event to one endpoint, started now (POST /v1/events/:id/retry) */
  redeliver(eventId: string, targetId: string): void;
}
