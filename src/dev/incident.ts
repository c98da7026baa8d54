import { isTerminal, type PaymentStatus } from '../payments/status.js';
import { SeededRandom } from '../random.js';
import { DEFAULT_FAULTS, type FaultConfig } from '../stripe-emulator/faults.js';
import { INCIDENT_DEAD_LETTERS, INCIDENT_DROP_RATE } from './incident-size.js';
import type { PlannedOrder } from './plan.js';
import type { DevIncident, InvariantCheck } from './types.js';

/**
 * `dev --incident`: the run ends with an incident an operator heals with the replay commands, as
 * after a real outage — a few payments dead-lettered while Stripe refused them, and Checkout
 * outcomes whose webhooks Stripe never delivered. Nothing in the run heals them itself.
 */

/** What heals the incident, in order, with the run's variables set. */
export const HEAL_COMMANDS = ['paymentsctl replay dlq --execute', 'paymentsctl replay stripe-events --execute', 'paymentsctl status'];

/** The paying direct orders Stripe refuses during the run: seeded, spread over the run. */
export function chooseRefusedOrders(plan: readonly PlannedOrder[], seed: number, count = INCIDENT_DEAD_LETTERS): string[] {
  const candidates = plan.filter((order) => order.flow === 'direct' && order.pays).map((order) => order.aggregateId);
  const random = new SeededRandom(seed ^ 0x1dc1);
  return random.shuffle(candidates).slice(0, count);
}

/** The emulator's faults while an incident is staged: those orders refused with 429s, a share of webhooks dropped. */
export function incidentFaults(refused: readonly string[]): FaultConfig {
  return { ...DEFAULT_FAULTS, dropRate: INCIDENT_DROP_RATE, refuseOrders: [...refused] };
}

export interface IncidentEvidence {
  plan: readonly PlannedOrder[];
  refused: readonly string[];
  statuses: ReadonlyMap<string, PaymentStatus>;
  /** successful charges at the emulator per order */
  charges: ReadonlyMap<string, number>;
  /** messages on the dead-letter topics not replayed yet */
  deadLetters: number;
  /** this run's webhook deliveries the emulator dropped */
  droppedDeliveries: number;
}

/** The orders the incident left unsettled: the refused ones and those waiting on a dropped webhook. */
export function describeIncident(evidence: IncidentEvidence): DevIncident {
  const refused = new Set(evidence.refused);
  const unsettled = (order: PlannedOrder) => {
    const status = evidence.statuses.get(order.aggregateId);
    return status === undefined || !isTerminal(status);
  };
  return {
    deadLettered: [...evidence.refused],
    awaitingWebhooks: evidence.plan
      .filter((order) => !refused.has(order.aggregateId) && unsettled(order))
      .map((order) => order.aggregateId),
    droppedDeliveries: evidence.droppedDeliveries,
    heal: HEAL_COMMANDS,
    healed: false,
  };
}

/**
 * The incident is the one staged, and nothing else went wrong: every refused payment is in a
 * dead-letter topic uncharged, and every other unsettled order is a Checkout payment whose
 * outcome a dropped webhook carried — never a direct charge, which settles without webhooks.
 */
export function incidentCheck(evidence: IncidentEvidence, incident: DevIncident): InvariantCheck {
  const name = 'the incident is the one staged';
  const flows = new Map(evidence.plan.map((order) => [order.aggregateId, order.flow]));
  const problems: string[] = [];
  const charged = incident.deadLettered.filter((id) => (evidence.charges.get(id) ?? 0) > 0);
  if (charged.length) problems.push(`refused orders charged anyway: ${charged.join(', ')}`);
  const settled = incident.deadLettered.filter((id) => isTerminal(evidence.statuses.get(id) ?? 'pending'));
  if (settled.length) problems.push(`refused orders settled anyway: ${settled.join(', ')}`);
  if (evidence.deadLetters !== incident.deadLettered.length)
    problems.push(`${evidence.deadLetters} messages in the dead-letter topics, ${incident.deadLettered.length} expected`);
  const direct = incident.awaitingWebhooks.filter((id) => flows.get(id) !== 'checkout');
  if (direct.length) problems.push(`direct orders left unsettled: ${direct.slice(0, 5).join(', ')}`);
  if (incident.awaitingWebhooks.length > 0 && evidence.droppedDeliveries === 0)
    problems.push(`${incident.awaitingWebhooks.length} orders unsettled though no webhook was dropped`);
  if (problems.length) return { name, ok: false, detail: problems.join('; ') };
  return {
    name,
    ok: true,
    detail:
      `${incident.deadLettered.length} payments dead-lettered while Stripe refused them, ` +
      `${incident.awaitingWebhooks.length} Checkout outcomes waiting on ${evidence.droppedDeliveries} dropped webhooks`,
  };
}
