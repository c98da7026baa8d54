import { idOf } from './objects.js';
import type { EmulatorStore } from './store.js';

/**
 * GET /_emulator/charges: how many successful Charges exist per Idempotency-Key and per order, to
 * prove a pipeline never charged anyone twice. A Charge counts as successful when the card was
 * charged or authorized (status `succeeded`), even if later refunded.
 */

export interface ChargeGroup {
  succeededCharges: number;
  failedCharges: number;
  charges: string[];
  paymentIntents: string[];
  amountCaptured: number;
  amountRefunded: number;
}

export interface ChargeReport {
  totals: {
    paymentIntents: number;
    charges: number;
    succeededCharges: number;
    failedCharges: number;
    amountCaptured: number;
    amountRefunded: number;
    /** successful charges whose PaymentIntent names no order (no metadata.order_id / trip_id) */
    unattributedCharges: number;
  };
  /**
   * Successful charges by the Idempotency-Key of the request that made them (for Checkout: the
   * request that created the session). Keys whose attempts all failed count 0.
   */
  byIdempotencyKey: Record<string, number>;
  /** successful charges by metadata.order_id, else metadata.trip_id, of the PaymentIntent (or of its Checkout Session) */
  byOrder: Record<string, number>;
  /** keys and orders with more than one successful charge: a double charge, unless intended */
  duplicates: { idempotencyKeys: string[]; orders: string[] };
  /** the charges, PaymentIntents and amounts behind each count */
  details: { byIdempotencyKey: Record<string, ChargeGroup>; byOrder: Record<string, ChargeGroup> };
}

function emptyGroup(): ChargeGroup {
  return { succeededCharges: 0, failedCharges: 0, charges: [], paymentIntents: [], amountCaptured: 0, amountRefunded: 0 };
}

function orderOf(store: EmulatorStore, paymentIntentId: string): string | undefined {
  const intent = store.paymentIntents.get(paymentIntentId);
  const fromIntent = intent?.metadata.order_id ?? intent?.metadata.trip_id;
  if (fromIntent) return fromIntent;
  const sessionId = store.sessionOfPaymentIntent.get(paymentIntentId);
  const session = sessionId ? store.checkoutSessions.get(sessionId) : undefined;
  return session?.metadata?.order_id ?? session?.metadata?.trip_id ?? undefined;
}

export function chargeReport(store: EmulatorStore): ChargeReport {
  const byIdempotencyKey: Record<string, ChargeGroup> = {};
  const byOrder: Record<string, ChargeGroup> = {};
  const totals = {
    paymentIntents: store.paymentIntents.size,
    charges: 0,
    succeededCharges: 0,
    failedCharges: 0,
    amountCaptured: 0,
    amountRefunded: 0,
    unattributedCharges: 0,
  };
  // An authorization released by a cancel never took money; it is not a successful charge.
  const tookMoney = (charge: { status: string; captured: boolean; refunded: boolean }) =>
    charge.status === 'succeeded' && (charge.captured || !charge.refunded);
  const add = (
    group: ChargeGroup,
    charge: {
      id: string;
      payment_intent: string;
      status: string;
      captured: boolean;
      refunded: boolean;
      amount_captured: number;
      amount_refunded: number;
    },
  ) => {
    group.charges.push(charge.id);
    if (!group.paymentIntents.includes(charge.payment_intent)) group.paymentIntents.push(charge.payment_intent);
    if (tookMoney(charge)) group.succeededCharges++;
    else if (charge.status !== 'succeeded') group.failedCharges++;
    group.amountCaptured += charge.amount_captured;
    group.amountRefunded += charge.amount_refunded;
  };
  for (const stored of store.charges.values()) {
    const charge = { ...stored, payment_intent: idOf(stored.payment_intent) as string };
    totals.charges++;
    if (tookMoney(charge)) totals.succeededCharges++;
    else if (charge.status !== 'succeeded') totals.failedCharges++;
    totals.amountCaptured += charge.amount_captured;
    totals.amountRefunded += charge.amount_refunded;
    const key = store.chargeIdempotencyKeys.get(charge.id);
    if (key) add((byIdempotencyKey[key] ??= emptyGroup()), charge);
    const order = orderOf(store, charge.payment_intent);
    if (order) add((byOrder[order] ??= emptyGroup()), charge);
    else if (tookMoney(charge)) totals.unattributedCharges++;
  }
  const counts = (groups: Record<string, ChargeGroup>) =>
    Object.fromEntries(Object.entries(groups).map(([name, group]) => [name, group.succeededCharges]));
  const twice = (groups: Record<string, ChargeGroup>) =>
    Object.entries(groups)
      .filter(([, group]) => group.succeededCharges > 1)
      .map(([name]) => name);
  return {
    totals,
    byIdempotencyKey: counts(byIdempotencyKey),
    byOrder: counts(byOrder),
    duplicates: { idempotencyKeys: twice(byIdempotencyKey), orders: twice(byOrder) },
    details: { byIdempotencyKey, byOrder },
  };
}
