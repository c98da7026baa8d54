import type { Clock } from './clock.js';
import type { EventLog } from './event-log.js';
import type { EmulatorStore } from './store.js';

/** What the resource modules share: the objects, the clock, the event log, and our own address. */
export interface EmulatorContext {
  store: EmulatorStore;
  clock: Clock;
  events: EventLog;
  /** http://host:port of this emulator, for URLs it hands out (Checkout pages) */
  baseUrl(): string;
}
