import type { Clock } from './clock.js';
import { ID_PREFIX, newId } from './ids.js';
import { DEFAULT_API_VERSION, type EventObject, type RequestOrigin } from './objects.js';
import type { EmulatorStore } from './store.js';

/** The event types the emulator emits. */
export const EVENT_TYPES = [
  'payment_intent.created',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.requires_action',
  'payment_intent.processing',
  'payment_intent.canceled',
  'payment_intent.amount_capturable_updated',
  'charge.succeeded',
  'charge.failed',
  'charge.captured',
  'charge.refunded',
  'charge.updated',
  'refund.created',
  'refund.updated',
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Where new events go to be delivered; returns how many endpoints will receive the event. */
export interface EventSink {
  dispatch(event: EventObject): number;
}

/**
 * Records an Event for every state change, as Stripe does, and hands it to webhook delivery.
 * `data.object` is a snapshot: later changes to the object do not alter past events.
 */
export class EventLog {
  constructor(
    private readonly store: EmulatorStore,
    private readonly clock: Clock,
    private readonly sink: EventSink,
  ) {}

  emit(type: EventType, object: object, origin: RequestOrigin, previousAttributes?: object): EventObject {
    const event: EventObject = {
      id: newId(ID_PREFIX.event),
      object: 'event',
      api_version: DEFAULT_API_VERSION,
      created: this.clock.nowSeconds(),
      data: {
        object: structuredClone(object),
        ...(previousAttributes ? { previous_attributes: structuredClone(previousAttributes) as Record<string, unknown> } : {}),
      },
      livemode: false,
      pending_webhooks: 0,
      request: { id: origin.requestId, idempotency_key: origin.idempotencyKey },
      type,
    };
    this.store.events.set(event.id, event);
    event.pending_webhooks = this.sink.dispatch(event);
    return event;
  }
}
