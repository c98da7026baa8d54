import type { EmulatorContext } from './context.js';
import { ID_PREFIX, newId } from './ids.js';
import type { ChargeObject, PaymentIntentObject } from './objects.js';
import type { Decline, TestCard } from './payment-methods.js';

/**
 * Creates the Charge for one payment attempt of a PaymentIntent: succeeded (captured now, or only
 * authorized for manual capture) or failed with the decline. `idempotencyKey` is the key of the
 * request that caused the attempt, remembered for the double-charge report.
 */
export function createCharge(
  ctx: EmulatorContext,
  intent: PaymentIntentObject,
  paymentMethod: string,
  card: TestCard,
  result: { decline?: Decline },
  idempotencyKey: string | null,
): ChargeObject {
  const decline = result.decline;
  const captured = !decline && intent.capture_method !== 'manual';
  const charge: ChargeObject = {
    id: newId(ID_PREFIX.charge),
    object: 'charge',
    amount: intent.amount,
    amount_captured: captured ? intent.amount : 0,
    amount_refunded: 0,
    balance_transaction: null,
    captured,
    created: ctx.clock.nowSeconds(),
    currency: intent.currency,
    customer: intent.customer,
    description: intent.description,
    failure_code: decline ? decline.code : null,
    failure_message: decline ? decline.message : null,
    livemode: false,
    metadata: { ...intent.metadata },
    outcome: decline
      ? {
          type: 'issuer_declined',
          network_status: 'declined_by_network',
          reason: decline.declineCode,
          risk_level: 'normal',
          seller_message: 'The bank did not return any further details with this decline.',
        }
      : {
          type: 'authorized',
          network_status: 'approved_by_network',
          reason: null,
          risk_level: 'normal',
          seller_message: 'Payment complete.',
        },
    paid: !decline,
    payment_intent: intent.id,
    payment_method: paymentMethod,
    payment_method_details: { type: 'card', card: { ...card.card } },
    refunded: false,
    status: decline ? 'failed' : 'succeeded',
  };
  ctx.store.charges.set(charge.id, charge);
  ctx.store.chargeIdempotencyKeys.set(charge.id, idempotencyKey);
  return charge;
}
