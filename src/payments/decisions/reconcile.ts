import { defined } from '../../optional.js';
import type { AggregateIds } from '../events.js';
import type { PaymentRow } from '../row.js';
import type { PaymentStatus } from '../status.js';
import type { Decision } from './decision.js';
import { decideWebhookEvent, type PaymentChange, type WebhookResult } from './webhook-event.js';

/**
 * Reconciliation's decisions: what Stripe's objects say about one order or trip, whether the
 * payments row agrees (a discrepancy with a stable code when not), and what a repair does to the
 * row. Pure: the facts are read and the repairs written in src/ops/reconcile.
 */

export const DISCREPANCY_CODES = [
  'missing_local_success',
  'local_success_not_at_stripe',
  'amount_mismatch',
  'currency_mismatch',
  'refund_missing_local',
  'refund_missing_at_stripe',
  'double_charge',
  'stale_pending',
  'orphan_at_stripe',
] as const;
export type DiscrepancyCode = (typeof DISCREPANCY_CODES)[number];

/** A PaymentIntent as reconciliation compares it (read from the SDK object, its latest Charge expanded). */
export interface IntentFacts {
  id: string;
  created: number;
  status: string;
  /** minor units asked for, and received */
  amount: number;
  amountReceived: number;
  currency: string;
  ids: AggregateIds;
  chargeId?: string;
  /** minor units refunded on the latest charge */
  amountRefunded: number;
  /** the latest charge is refunded in full */
  refunded: boolean;
  /** refunds seen for this PaymentIntent, newest first */
  refundIds: string[];
  lastError?: { message?: string; code?: string; declineCode?: string };
}

export interface SessionFacts {
  id: string;
  created: number;
  status: 'open' | 'complete' | 'expired' | string;
  paymentStatus: 'paid' | 'unpaid' | 'no_payment_required' | string;
  amountTotal: number | null;
  currency: string | null;
  ids: AggregateIds;
  paymentIntentId?: string;
}

/** Everything known about one order or trip: its row (if any) and its Stripe objects. */
export interface AggregateFacts {
  aggregateId: string;
  row?: PaymentRow & { updatedAt: number };
  intents: IntentFacts[];
  sessions: SessionFacts[];
}

/** What a repair would do. `record_outcome` moves the row as the lost webhook would have; the others need a person or a flag. */
export type RepairPlan =
  | { action: 'record_outcome'; next: PaymentChange['next']; object: string; change: PaymentChange }
  | { action: 'refund_duplicates'; keep: string; refund: string[] }
  | { action: 'none'; why: string };

export interface Discrepancy {
  code: DiscrepancyCode;
  aggregateId: string;
  local: {
    status: PaymentStatus;
    amount: number | null;
    currency: string | null;
    paymentIntentId: string | null;
    checkoutSessionId: string | null;
  } | null;
  stripe: { object: string; status: string; amount: number | null; currency: string | null; amountRefunded?: number } | null;
  detail: string;
  fix: RepairPlan;
}

/** What Stripe's objects add up to for one aggregate. */
export type StripeVerdict =
  | { outcome: 'succeeded'; primary: IntentFacts | SessionFacts; active: IntentFacts[] }
  | { outcome: 'refunded'; primary: IntentFacts }
  | { outcome: 'failed'; primary: IntentFacts | SessionFacts; reason: string }
  | { outcome: 'pending'; primary: IntentFacts | SessionFacts }
  | { outcome: 'absent' };

const TOOK_MONEY = new Set(['succeeded', 'requires_capture']);

function tookMoney(intent: IntentFacts): boolean {
  return TOOK_MONEY.has(intent.status);
}

/** A PaymentIntent that will not take money any more: canceled, or declined with no session to try again in. */
function failedForGood(intent: IntentFacts, inCheckout: boolean): boolean {
  if (intent.status === 'canceled') return true;
  return !inCheckout && intent.status === 'requires_payment_method' && intent.lastError !== undefined;
}

function byCreated<T extends { created: number; id: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => a.created - b.created || a.id.localeCompare(b.id));
}

export function stripeVerdict(facts: AggregateFacts): StripeVerdict {
  const intents = byCreated(facts.intents);
  const sessions = byCreated(facts.sessions);
  const recorded = facts.row?.paymentIntentId;
  const money = intents.filter(tookMoney);
  const active = money.filter((intent) => !intent.refunded);
  if (active.length > 0) {
    // The one the row names is the payment; any other is the duplicate.
    return { outcome: 'succeeded', primary: active.find((intent) => intent.id === recorded) ?? active[0]!, active };
  }
  if (money.length > 0) return { outcome: 'refunded', primary: money.find((intent) => intent.id === recorded) ?? money[0]! };
  const paid = sessions.find((session) => session.paymentStatus === 'paid');
  if (paid) return { outcome: 'succeeded', primary: paid, active: [] };
  if (sessions.length > 0) {
    // The session the row names is the one the customer was sent to. Another session of the trip
    // was made under a key whose request failed: nobody has its URL, so it can never be paid,
    // and its staying open (or expiring) says nothing about the payment.
    const recordedSession = sessions.find((session) => session.id === facts.row?.checkoutSessionId);
    if (recordedSession) return sessionVerdict(recordedSession, intents);
    const open = sessions.find((session) => session.status === 'open');
    if (open) return { outcome: 'pending', primary: open };
    const expired = sessions.find((session) => session.status === 'expired');
    if (expired && sessions.every((session) => session.status === 'expired')) {
      return { outcome: 'failed', primary: expired, reason: 'checkout_session_expired' };
    }
    return sessionVerdict(sessions.find((session) => session.status === 'complete') ?? sessions[sessions.length - 1]!, intents);
  }
  if (intents.length === 0) return { outcome: 'absent' };
  const inCheckout = intents.some((intent) => intent.ids.trip_id !== undefined) || facts.row?.kind === 'checkout_session';
  const latest = intents[intents.length - 1]!;
  if (intents.every((intent) => failedForGood(intent, inCheckout))) {
    return {
      outcome: 'failed',
      primary: latest,
      reason: latest.status === 'canceled' ? 'payment_intent_canceled' : (latest.lastError?.message ?? 'payment_intent_payment_failed'),
    };
  }
  return { outcome: 'pending', primary: latest };
}

/** What one unpaid Checkout Session says: open is pending; expired, or completed with its delayed payment failed, is final. */
function sessionVerdict(session: SessionFacts, intents: IntentFacts[]): StripeVerdict {
  if (session.status === 'open') return { outcome: 'pending', primary: session };
  if (session.status === 'expired') return { outcome: 'failed', primary: session, reason: 'checkout_session_expired' };
  const intent = intents.find((candidate) => candidate.id === session.paymentIntentId);
  if (intent && (intent.status === 'canceled' || (intent.status === 'requires_payment_method' && intent.lastError))) {
    return { outcome: 'failed', primary: session, reason: 'checkout_session_async_payment_failed' };
  }
  return { outcome: 'pending', primary: session };
}

export interface CompareOptions {
  /** now, in ms since the epoch */
  now: number;
  /** a row pending longer than this while Stripe is final is stale */
  staleAfterMs: number;
}

const isIntent = (object: IntentFacts | SessionFacts): object is IntentFacts => 'amountReceived' in object;

function stripeSide(verdict: StripeVerdict): Discrepancy['stripe'] {
  if (verdict.outcome === 'absent') return null;
  const object = verdict.primary;
  if (isIntent(object)) {
    return {
      object: object.id,
      status: object.status,
      amount: object.amount,
      currency: object.currency,
      amountRefunded: object.amountRefunded,
    };
  }
  return { object: object.id, status: `${object.status}/${object.paymentStatus}`, amount: object.amountTotal, currency: object.currency };
}

function localSide(row: AggregateFacts['row']): Discrepancy['local'] {
  if (!row) return null;
  const { status, amount, currency, paymentIntentId, checkoutSessionId } = row;
  return { status, amount, currency, paymentIntentId, checkoutSessionId };
}

/** Every way the row and Stripe disagree about one aggregate; empty when they agree. */
export function compareAggregate(facts: AggregateFacts, options: CompareOptions): Discrepancy[] {
  const verdict = stripeVerdict(facts);
  const row = facts.row;
  const status = row?.status;
  const found: Discrepancy[] = [];
  const add = (code: DiscrepancyCode, detail: string, fix: RepairPlan) =>
    found.push({ code, aggregateId: facts.aggregateId, local: localSide(row), stripe: stripeSide(verdict), detail, fix });
  const flagOnly = (why: string): RepairPlan => ({ action: 'none', why });

  switch (verdict.outcome) {
    case 'succeeded': {
      if (status === undefined || status === 'pending' || status === 'requires_action' || status === 'cancelled') {
        add(
          'missing_local_success',
          `Stripe took the money (${verdict.primary.id}) but ${status === undefined ? 'there is no payments row' : `the row says ${status}`}`,
          recordOutcome(facts, verdict, 'succeeded'),
        );
      } else if (status === 'failed') {
        add(
          'missing_local_success',
          `Stripe took the money (${verdict.primary.id}) but the row says failed`,
          flagOnly('failed is final: the order was released; refund the charge or re-open the order by hand'),
        );
      } else if (status === 'refunded') {
        add(
          'refund_missing_at_stripe',
          `the row says refunded but ${verdict.primary.id} still holds the money`,
          flagOnly('refund at Stripe by hand, or correct the row'),
        );
      }
      if (verdict.active.length > 1) {
        const keep = verdict.primary.id;
        add(
          'double_charge',
          `${verdict.active.length} PaymentIntents took money: ${verdict.active.map((intent) => intent.id).join(', ')}`,
          { action: 'refund_duplicates', keep, refund: verdict.active.filter((intent) => intent.id !== keep).map((intent) => intent.id) },
        );
      }
      break;
    }
    case 'refunded':
      if (status === 'succeeded') {
        add(
          'refund_missing_local',
          `${verdict.primary.id} was refunded at Stripe but the row says succeeded`,
          recordOutcome(facts, verdict, 'refunded'),
        );
      } else if (status !== 'refunded' && status !== 'cancelled') {
        add(
          'refund_missing_local',
          `${verdict.primary.id} took the money and was refunded, but ${status === undefined ? 'there is no payments row' : `the row says ${status}`}`,
          flagOnly('the payment and its refund both went unrecorded; check the order by hand'),
        );
      }
      break;
    case 'failed':
      if (status === 'pending' || status === 'requires_action') {
        if (options.now - row!.updatedAt > options.staleAfterMs) {
          add('stale_pending', `the row is ${status} but Stripe is final (${verdict.reason})`, recordOutcome(facts, verdict, 'failed'));
        }
      } else if (status === undefined) {
        add(
          'orphan_at_stripe',
          `${verdict.primary.id} (${verdict.reason}) names this aggregate, which has no payments row`,
          flagOnly('nothing was charged; look for the order that made it'),
        );
      } else if (status === 'succeeded' || status === 'refunded') {
        add(
          'local_success_not_at_stripe',
          `the row says ${status} but Stripe's payment failed (${verdict.reason})`,
          flagOnly('never moved back automatically: check the order by hand'),
        );
      }
      break;
    case 'pending':
      if (status === undefined) {
        add(
          'orphan_at_stripe',
          `${verdict.primary.id} names this aggregate, which has no payments row`,
          flagOnly('nothing was charged yet; look for the order that made it'),
        );
      } else if (status === 'succeeded' || status === 'refunded') {
        add(
          'local_success_not_at_stripe',
          `the row says ${status} but ${verdict.primary.id} has not taken money`,
          flagOnly('never moved back automatically: check the order by hand'),
        );
      }
      break;
    case 'absent':
      if (status === 'succeeded' || status === 'refunded') {
        add(
          'local_success_not_at_stripe',
          `the row says ${status} but Stripe has no PaymentIntent or Checkout Session for it`,
          flagOnly('never moved back automatically: check the order by hand'),
        );
      }
      break;
  }

  if (row && row.amount !== null && verdict.outcome !== 'absent') {
    const stripe = stripeSide(verdict)!;
    if (stripe.amount !== null && stripe.amount !== row.amount) {
      add(
        'amount_mismatch',
        `the row says ${row.amount}, ${stripe.object} says ${stripe.amount} (minor units)`,
        flagOnly('money amounts are never changed automatically'),
      );
    }
    if (stripe.currency !== null && row.currency !== null && stripe.currency.toLowerCase() !== row.currency) {
      add(
        'currency_mismatch',
        `the row says ${row.currency}, ${stripe.object} says ${stripe.currency}`,
        flagOnly('currencies are never changed automatically'),
      );
    }
  }
  return found;
}

/** The change a lost webhook would have brought, built from the object Stripe has now. */
function recordOutcome(facts: AggregateFacts, verdict: StripeVerdict, next: PaymentChange['next']): RepairPlan {
  if (verdict.outcome === 'absent') return { action: 'none', why: 'nothing at Stripe to record' };
  const primary = verdict.primary;
  const session = isIntent(primary) ? facts.sessions.find((candidate) => candidate.paymentIntentId === primary.id) : primary;
  const intent = isIntent(primary) ? primary : facts.intents.find((candidate) => candidate.id === primary.paymentIntentId);
  const ids: AggregateIds = { ...(intent?.ids ?? {}), ...(session?.ids ?? {}) };
  const checkout = session !== undefined || ids.trip_id !== undefined || facts.row?.kind === 'checkout_session';
  const amount =
    session?.amountTotal ??
    (intent ? (next === 'succeeded' && intent.amountReceived > 0 ? intent.amountReceived : intent.amount) : undefined);
  const currency = (session?.currency ?? intent?.currency)?.toLowerCase();
  const change: PaymentChange = {
    next,
    aggregateId: facts.aggregateId,
    ...defined('paymentIntentId', intent?.id),
    ...defined('checkoutSessionId', session?.id),
    ...defined('chargeId', intent?.chargeId),
    kind: checkout ? 'checkout_session' : 'payment_intent',
    idempotencyKey: facts.row?.idempotencyKey ?? (checkout && ids.trip_id ? `cs:${ids.trip_id}` : `pi:${facts.aggregateId}`),
    ...defined('amount', amount ?? undefined),
    ...defined('currency', currency),
    ids,
  };
  if (next === 'failed' && verdict.outcome === 'failed') {
    change.failure = {
      reason: verdict.reason,
      ...defined('code', intent?.lastError?.code),
      ...defined('declineCode', intent?.lastError?.declineCode),
    };
  }
  if (next === 'refunded' && intent) change.refund = { amount: intent.amountRefunded, ...defined('refundId', intent.refundIds[0]) };
  return { action: 'record_outcome', next, object: primary.id, change };
}

/** The outcomes a repair can have. */
export type RepairResult =
  /** the row moved and its event is in the outbox */
  | 'repaired'
  /** the row already has this outcome (a webhook came late, or an earlier run repaired it) */
  | 'already_repaired'
  /** the row is past this news: a repair never moves a row backwards */
  | 'not_repairable';

/**
 * What a `record_outcome` repair does to the row as it is now (locked): exactly what the webhook
 * the pipeline lost would have done — the same state machine, the same event — with an event id
 * derived from the Stripe object and outcome, so two repairs of one row can never write two events.
 */
export function decideRepair(
  plan: Extract<RepairPlan, { action: 'record_outcome' }>,
  row: PaymentRow | undefined,
  source: string,
): Decision<RepairResult> {
  const decision: Decision<WebhookResult> = decideWebhookEvent(`reconcile:${plan.object}:${plan.next}`, plan.change, row, source);
  const outcome = decision.result.outcome;
  if (!outcome.startsWith('published:') || !decision.write) {
    return { result: outcome === 'duplicate_transition' ? 'already_repaired' : 'not_repairable' };
  }
  const headers = { reconciled_from: plan.object };
  return {
    result: 'repaired',
    write: decision.write,
    events: (decision.events ?? []).map((event) => ({ ...event, headers })),
  };
}

/** Which aggregate a Stripe object belongs to: our metadata names an order or a trip. */
export function aggregateOf(ids: AggregateIds): string | undefined {
  return ids.order_id ?? ids.trip_id;
}
