import type { EmulatorContext } from './context.js';
import { invalidRequest, resourceMissing } from './errors.js';
import { ID_PREFIX, newId } from './ids.js';
import type { ChargeObject, Metadata, RefundObject, RequestOrigin } from './objects.js';

export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

export interface NewRefund {
  paymentIntent?: string;
  charge?: string;
  /** minor units; the whole unrefunded amount when absent */
  amount?: number;
  reason?: string;
  metadata: Metadata;
}

/** The captured Charge a refund applies to, named by PaymentIntent or by Charge. */
function refundableCharge(ctx: EmulatorContext, input: NewRefund): ChargeObject {
  if (input.charge) {
    const charge = ctx.store.charges.get(input.charge);
    if (!charge) throw resourceMissing('charge', input.charge, { param: 'charge', inUrl: false });
    if (input.paymentIntent && charge.payment_intent !== input.paymentIntent) {
      throw invalidRequest(`Charge ${charge.id} does not belong to PaymentIntent ${input.paymentIntent}.`, { param: 'charge' });
    }
    return charge;
  }
  const id = input.paymentIntent as string;
  const intent = ctx.store.paymentIntents.get(id);
  if (!intent) throw resourceMissing('payment_intent', id, { param: 'payment_intent', inUrl: false });
  const charge = intent.latest_charge ? ctx.store.charges.get(intent.latest_charge) : undefined;
  if (!charge || charge.status !== 'succeeded') {
    throw invalidRequest(`This PaymentIntent (${id}) does not have a successful charge to refund.`, { param: 'payment_intent' });
  }
  return charge;
}

export function createRefund(ctx: EmulatorContext, input: NewRefund, origin: RequestOrigin): RefundObject {
  if (!input.paymentIntent && !input.charge) {
    throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', {
      param: 'payment_intent',
    });
  }
  const charge = refundableCharge(ctx, input);
  if (!charge.captured) {
    throw invalidRequest(`Charge ${charge.id} has not been captured; cancel its PaymentIntent to release the authorization instead.`, {
      code: 'charge_not_captured',
    });
  }
  // amount_refunded also counts an uncaptured remainder released at capture; only refunds count here.
  let refundedSoFar = 0;
  for (const refund of ctx.store.refunds.values()) if (refund.charge === charge.id) refundedSoFar += refund.amount;
  const unrefunded = charge.amount_captured - refundedSoFar;
  if (unrefunded <= 0) throw invalidRequest(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
  const amount = input.amount ?? unrefunded;
  if (amount > unrefunded) {
    throw invalidRequest(`Refund amount (${amount}) is greater than unrefunded amount on charge (${unrefunded})`, {
      param: 'amount',
      code: 'amount_too_large',
    });
  }
  const refund: RefundObject = {
    id: newId(ID_PREFIX.refund),
    object: 'refund',
    amount,
    charge: charge.id,
    created: ctx.clock.nowSeconds(),
    currency: charge.currency,
    metadata: input.metadata,
    payment_intent: charge.payment_intent,
    reason: input.reason ?? null,
    status: 'succeeded',
  };
  ctx.store.refunds.set(refund.id, refund);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount;
  ctx.events.emit('refund.created', refund, origin);
  ctx.events.emit('charge.refunded', charge, origin);
  return refund;
}
