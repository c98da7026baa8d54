import { Topics } from '../contracts.js';
import type { CheckoutRequested, OrderPlaced } from '../payments/events.js';
import { SeededRandom } from '../random.js';

/**
 * The orders a `dev` run places: a seeded mix of the bookstore seed's direct charges and the
 * ride-share seed's Checkout Sessions, some of which the customer's bank declines. Each order knows
 * the outcome it must reach, so the run can check that it did.
 */

export type OrderFlow = 'direct' | 'checkout';

/** How the simulated customer finishes a hosted Checkout page (the emulator's admin outcomes). */
export type CheckoutCompletion = 'paid' | 'async_succeeded' | 'async_failed';

export interface PlannedOrder {
  /** order_id or trip_id: the payments row, the Kafka key and the idempotency-key suffix */
  aggregateId: string;
  flow: OrderFlow;
  /** whether the money should be taken; a declined order must instead be released (compensated) */
  pays: boolean;
  topic: typeof Topics.ordersPlaced | typeof Topics.checkoutRequested;
  data: OrderPlaced | CheckoutRequested;
  checkoutCompletion?: CheckoutCompletion;
}

export interface OrderMix {
  count: number;
  /** share of orders whose payment is declined, 0..1 */
  declineRate: number;
  /** share of orders paid through a Checkout Session and webhooks instead of a direct PaymentIntent, 0..1 */
  checkoutShare: number;
  seed: number;
  /** makes ids unique across runs that share an emulator */
  runId: string;
}

const GOOD_CARDS = ['pm_card_visa', 'pm_card_mastercard', 'pm_card_visa_debit'] as const;
const DECLINING_CARDS = ['pm_card_chargeDeclined', 'pm_card_chargeDeclinedInsufficientFunds', 'pm_card_chargeDeclinedExpiredCard'] as const;
const CURRENCIES = ['usd', 'usd', 'usd', 'eur', 'gbp'] as const;

function pick<T>(random: SeededRandom, items: readonly T[]): T {
  return items[random.int(items.length)] as T;
}

export function planOrders(mix: OrderMix): PlannedOrder[] {
  const random = new SeededRandom(mix.seed);
  const orders: PlannedOrder[] = [];
  const width = String(mix.count).length;
  for (let i = 1; i <= mix.count; i++) {
    const n = String(i).padStart(width, '0');
    const checkout = random.chance(mix.checkoutShare);
    const pays = !random.chance(mix.declineRate);
    // 5.00 to 199.99 in the currency's minor units
    const amount = 500 + random.int(19_500);
    const currency = pick(random, CURRENCIES);
    if (checkout) {
      const data: CheckoutRequested = {
        trip_id: `trip_${mix.runId}_${n}`,
        user_id: `rider_${random.int(500)}`,
        driver_id: `driver_${random.int(80)}`,
        amount,
        currency,
      };
      // A few riders pay with a delayed method (bank debit) that settles a moment later.
      const checkoutCompletion: CheckoutCompletion = pays ? (random.chance(0.2) ? 'async_succeeded' : 'paid') : 'async_failed';
      orders.push({ aggregateId: data.trip_id, flow: 'checkout', pays, topic: Topics.checkoutRequested, data, checkoutCompletion });
    } else {
      const data: OrderPlaced = {
        order_id: `order_${mix.runId}_${n}`,
        amount,
        currency,
        customer: `customer_${random.int(1000)}`,
        payment_method: pays ? pick(random, GOOD_CARDS) : pick(random, DECLINING_CARDS),
      };
      orders.push({ aggregateId: data.order_id, flow: 'direct', pays, topic: Topics.ordersPlaced, data });
    }
  }
  return orders;
}
