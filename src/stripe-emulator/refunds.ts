import type { EmulatorContext } from './context.js';
import { invalidRequest, resourceMissing } from './errors.js';
import { ID_PREFIX, newId } from './ids.js';
import { idOf, type ChargeObject, type Metadata, type RefundObject, type RequestOrigin } from './objects.js';
import { mergeMetadata } from './params.js';
import { applyChanges, changedAnything } from './updates.js';

export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;
export type RefundReason = (typeof REFUND_REASONS)[number];

export interface NewRefund {
  paymentIntent?: string;
  charge?: string;
  /** minor units; the whole unrefunded amount when absent */
  amount?: number;
  reason?: RefundReason;
  metadata: Metadata;
}

/** The captured Charge a refund applies to, named by PaymentIntent or by Charge. */
function refundableCharge(ctx: EmulatorContext, input: NewRefund): ChargeObject {
  if (input.charge) {
    const charge = ctx.store.charges.get(input.charge);
    if (!charge) throw resourceMissing('charge', input.charge, { param: 'charge', inUrl: false });
    if (input.paymentIntent && idOf(charge.payment_intent) !== input.paymentIntent) {
      throw invalidRequest(`Charge ${charge.id} does not belong to PaymentIntent ${input.paymentIntent}.`, { param: 'charge' });
    }
    return charge;
  }
  const id = input.paymentIntent as string;
  const intent = ctx.store.paymentIntents.get(id);
  if (!intent) throw resourceMissing('payment_intent', id, { param: 'payment_intent', inUrl: false });
  const latest = idOf(intent.latest_charge);
  const charge = latest ? ctx.store.charges.get(latest) : undefined;
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
      code: 'charge_not_refundable',
    });
  }
  // amount_refunded also counts an uncaptured remainder released at capture; only refunds count here.
  let refundedSoFar = 0;
  for (const refund of ctx.store.refunds.values()) if (idOf(refund.charge) === charge.id) refundedSoFar += refund.amount;
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
    balance_transaction: null,
    charge: charge.id,
    created: ctx.clock.nowSeconds(),
    currency: charge.currency,
    customer: idOf(charge.customer),
    customer_account: null,
    // Card refunds reach the card: Stripe reports the acquirer's reference once there is one.
    destination_details: { card: { reference_status: 'pending', type: 'refund' }, type: 'card' },
    metadata: input.metadata,
    payment_intent: idOf(charge.payment_intent),
    payment_method: charge.payment_method,
    reason: input.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  ctx.store.refunds.set(refund.id, refund);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded >= charge.amount;
  ctx.events.emit('refund.created', refund, origin);
  ctx.events.emit('charge.refunded', charge, origin);
  return refund;
}

export function getRefund(ctx: EmulatorContext, id: string): RefundObject {
  const refund = ctx.store.refunds.get(id);
  if (!refund) throw resourceMissing('refund', id);
  return refund;
}

/** `POST /v1/refunds/{id}`: only metadata changes, as in Stripe; a change sends `refund.updated`. */
export function updateRefund(
  ctx: EmulatorContext,
  refund: RefundObject,
  update: Metadata | null | undefined,
  origin: RequestOrigin,
): RefundObject {
  const previous = applyChanges(refund, { metadata: update === undefined ? undefined : mergeMetadata(refund.metadata ?? {}, update) });
  if (changedAnything(previous)) ctx.events.emit('refund.updated', refund, origin, previous);
  return refund;
}
