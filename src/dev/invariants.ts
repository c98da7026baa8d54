import { isTerminal, type PaymentStatus } from '../payments/status.js';
import type { PlannedOrder } from './plan.js';
import type { InvariantCheck } from './types.js';

/**
 * The money invariants a run must end with, decided from what the stores say — the application's
 * orders, the payments table, the saga's inbox, Kafka and the emulator's charges — never from what
 * the roles claim.
 */
export interface RunEvidence {
  /** every order the application committed, and whether its payment should go through */
  orders: ReadonlyArray<{ aggregateId: string; pays: boolean }>;
  requested: number;
  /** payments row status per order */
  statuses: ReadonlyMap<string, PaymentStatus>;
  /** releases (orders.cancelled) the saga processed, per order */
  compensations: ReadonlyMap<string, number>;
  /** successful charges the emulator made, per order */
  charges: ReadonlyMap<string, number>;
  /** whose money each order is: a trip's rider (user_id), an order's customer */
  users: ReadonlyMap<string, string>;
  /** per order, the user of each charge and refund entry in the transaction history */
  history: ReadonlyMap<string, { charge: readonly string[]; refund: readonly string[] }>;
  outboxBacklog: number;
  deadLetters: number;
  consumerLag: number;
  unexpectedExits: number;
  /**
   * dev --incident: orders the staged incident left unsettled — the outcome checks skip them
   * until the operator heals it — and the dead letters it put there
   */
  incident?: { unsettled: ReadonlySet<string>; deadLetters: number };
}

/** Whose money each planned order is, as its event says: a trip's rider, an order's customer. */
export function ownersOf(plan: readonly PlannedOrder[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const order of plan) {
    const owner = 'user_id' in order.data ? order.data.user_id : order.data.customer;
    if (owner) owners.set(order.aggregateId, owner);
  }
  return owners;
}

const SHOWN = 5;

function listed(ids: string[], describe: (id: string) => string = (id) => id): string {
  const shown = ids.slice(0, SHOWN).map(describe).join(', ');
  return ids.length > SHOWN ? `${shown} and ${ids.length - SHOWN} more` : shown;
}

function check(name: string, offenders: string[], okDetail: string, failDetail: (offenders: string[]) => string): InvariantCheck {
  return offenders.length === 0 ? { name, ok: true, detail: okDetail } : { name, ok: false, detail: failDetail(offenders) };
}

/**
 * A succeeded order has exactly one charge entry, a refunded one a charge and a refund entry,
 * each under the order's user; an order that took no money may have none of either.
 */
function historyHolds(id: string, status: string, users: RunEvidence['users'], history: RunEvidence['history']): boolean {
  const entries = history.get(id) ?? { charge: [], refund: [] };
  const user = users.get(id);
  const once = (list: readonly string[]) => list.length === 1 && list[0] === user;
  if (status === 'succeeded') return once(entries.charge) && entries.refund.length === 0;
  if (status === 'refunded') return once(entries.charge) && once(entries.refund);
  return entries.charge.length === 0 && entries.refund.length === 0;
}

function describeEntries(entries: { charge: readonly string[]; refund: readonly string[] } | undefined, user: string | undefined): string {
  const users = (list: readonly string[]) => (list.length ? ` for ${list.join(', ')}` : '');
  return `${entries?.charge.length ?? 0} charge${users(entries?.charge ?? [])}, ${entries?.refund.length ?? 0} refund${users(entries?.refund ?? [])}; user ${user ?? 'unknown'}`;
}

export function checkInvariants(evidence: RunEvidence): InvariantCheck[] {
  const { statuses, compensations, charges, users, history } = evidence;
  const staged = evidence.incident?.unsettled;
  const orders = staged ? evidence.orders.filter((order) => !staged.has(order.aggregateId)) : evidence.orders;
  const deadLetters = evidence.deadLetters - (evidence.incident?.deadLetters ?? 0);
  const statusOf = (id: string) => statuses.get(id) ?? 'no payment';
  const terminal = (id: string) => statuses.has(id) && isTerminal(statuses.get(id)!);
  const count = (value: number) => value.toLocaleString('en-US');
  const expected = (pays: boolean): PaymentStatus => (pays ? 'succeeded' : 'failed');
  const declined = orders.filter((order) => !order.pays);
  // A refunded payment took the money first: its charge counts.
  const tookMoney = new Set(
    orders.filter((order) => ['succeeded', 'refunded'].includes(statusOf(order.aggregateId))).map((order) => order.aggregateId),
  );
  const ordersCharged = orders.filter((order) => (charges.get(order.aggregateId) ?? 0) > 0).length;

  return [
    check(
      'every order was placed',
      evidence.orders.length === evidence.requested ? [] : [`${evidence.requested - evidence.orders.length}`],
      `${count(evidence.orders.length)} orders committed with their outbox events`,
      () => `${evidence.orders.length} of ${evidence.requested} orders were committed`,
    ),
    check(
      'every order reached exactly one terminal outcome',
      orders.filter((order) => !terminal(order.aggregateId)).map((order) => order.aggregateId),
      `${count(orders.length)} orders, one payments row each, all terminal${staged ? ` (${count(staged.size)} left to the incident)` : ''}`,
      (ids) => `${ids.length} without a terminal outcome: ${listed(ids, (id) => `${id} (${statusOf(id)})`)}`,
    ),
    check(
      'every outcome is the one the card called for',
      orders
        .filter((order) => terminal(order.aggregateId) && statuses.get(order.aggregateId) !== expected(order.pays))
        .map((order) => order.aggregateId),
      `${count(orders.length - declined.length)} paid, ${count(declined.length)} declined`,
      (ids) => `${ids.length} orders ended otherwise: ${listed(ids, (id) => `${id} (${statusOf(id)})`)}`,
    ),
    check(
      'every declined order was compensated',
      orders
        .filter((order) => statuses.get(order.aggregateId) === 'failed' && !compensations.has(order.aggregateId))
        .map((order) => order.aggregateId),
      `${count(compensations.size)} orders released by the saga`,
      (ids) => `${ids.length} failed payments whose order was never released: ${listed(ids)}`,
    ),
    check(
      "every paid order is in its user's history once",
      orders
        .filter((order) => !historyHolds(order.aggregateId, statusOf(order.aggregateId), users, history))
        .map((order) => order.aggregateId),
      `${count(tookMoney.size)} charge entries, one per paid order, each under its user`,
      (ids) =>
        `${ids.length} orders whose history is wrong: ${listed(ids, (id) => `${id} (${statusOf(id)}, ${describeEntries(history.get(id), users.get(id))})`)}`,
    ),
    check(
      'no paid order was released',
      orders
        .filter((order) => compensations.has(order.aggregateId) && statuses.get(order.aggregateId) !== 'failed')
        .map((order) => order.aggregateId),
      'the saga released only orders whose payment failed',
      (ids) => `${ids.length} orders released although their payment did not fail: ${listed(ids, (id) => `${id} (${statusOf(id)})`)}`,
    ),
    check(
      'at most one successful charge per order',
      orders.filter((order) => (charges.get(order.aggregateId) ?? 0) > 1).map((order) => order.aggregateId),
      'no order was charged twice',
      (ids) => `${ids.length} orders charged more than once: ${listed(ids, (id) => `${id} (${charges.get(id)} charges)`)}`,
    ),
    check(
      'the emulator charged exactly the orders the payments table says succeeded',
      orders
        .filter((order) => (charges.get(order.aggregateId) ?? 0) > 0 !== tookMoney.has(order.aggregateId))
        .map((order) => order.aggregateId),
      `${count(ordersCharged)} orders charged = ${count(tookMoney.size)} payments succeeded`,
      (ids) =>
        `${ordersCharged} orders charged, ${tookMoney.size} payments succeeded; they disagree on ${listed(ids, (id) => `${id} (${statusOf(id)}, ${charges.get(id) ?? 0} charges)`)}`,
    ),
    check(
      'the outbox is drained',
      evidence.outboxBacklog > 0 ? [String(evidence.outboxBacklog)] : [],
      'every outbox row was published',
      () => `${evidence.outboxBacklog} outbox rows were never published`,
    ),
    check(
      'nothing in a dead-letter topic',
      deadLetters > 0 ? [String(deadLetters)] : [],
      evidence.incident ? "every message was handled but the incident's" : 'every message was handled (or replayed)',
      () => `${deadLetters} messages were dead-lettered (read them with their paymentsctl_dlq_reason headers)`,
    ),
    check(
      'the worker consumed everything',
      evidence.consumerLag > 0 ? [String(evidence.consumerLag)] : [],
      'consumer lag 0 on every topic and retry topic',
      () => `${evidence.consumerLag} messages were never consumed`,
    ),
    check(
      'roles exited only when killed',
      evidence.unexpectedExits > 0 ? [String(evidence.unexpectedExits)] : [],
      'no role crashed',
      () => `${evidence.unexpectedExits} unexpected exits (see the role logs)`,
    ),
  ];
}
