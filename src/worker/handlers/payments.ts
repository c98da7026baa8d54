import { InboxConsumers, Topics } from '../../contracts.js';
import { decideCharge, decideKnownOrder } from '../../payments/decisions/charge.js';
import { orderPlacedSchema, type OrderPlaced } from '../../payments/events.js';
import { chargeOrderOnce } from '../../payments/stripe-calls.js';
import type { StripeGateway } from '../../stripe/index.js';
import type { TopicHandler } from '../handler.js';

/** How far before the event's own time a lookup of its PaymentIntent starts (clock skew). */
const LOOKUP_MARGIN_SECONDS = 600;

/** orders.placed → one PaymentIntent (key pi:<order_id>) → payments row + outcome event. */
export function paymentsHandler(deps: { gateway: StripeGateway }): TopicHandler<OrderPlaced> {
  return {
    name: 'payments',
    topic: Topics.ordersPlaced,
    consumer: InboxConsumers.payments,
    schema: orderPlacedSchema,
    aggregateOf: (order) => order.order_id,
    async prepare(order, message, known) {
      if (known) return () => decideKnownOrder(known);
      const createdFrom = Math.floor(message.eventTime.getTime() / 1000) - LOOKUP_MARGIN_SECONDS;
      const charge = await chargeOrderOnce(deps.gateway, order, { createdFrom });
      return (current) => decideCharge(order, charge, current);
    },
  };
}
