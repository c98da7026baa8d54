import chalk from 'chalk';
import type { PaymentStatus } from '../payments/status.js';
import { ROLE_NAMES, type DevSnapshot, type DevSummary, type RoleSnapshot } from '../dev/types.js';
import { redact } from '../redact.js';
import { mark } from './output.js';

/** A long list of double-charged ids would bury the rest of the report; the count still says how many. */
const DOUBLE_CHARGED_SHOWN = 10;

/** Outcomes in the order a person reads them: settled ones first, the still-open ones last. */
export const OUTCOME_ORDER: readonly PaymentStatus[] = ['succeeded', 'failed', 'cancelled', 'refunded', 'pending', 'requires_action'];

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Slow stages (a handful of webhooks a second) would all read 0/s or 1/s without the decimal. */
export function formatRate(perSecond: number): string {
  return `${perSecond.toLocaleString('en-US', { maximumFractionDigits: perSecond < 10 ? 1 : 0 })}/s`;
}

/** Rounded down, so 100% means every planned order has its outcome, not 99.6% of them. */
export function completionPercent(orders: DevSnapshot['orders']): number {
  if (orders.planned <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((orders.terminal / orders.planned) * 100)));
}

export function totalKills(roles: readonly RoleSnapshot[]): number {
  return roles.reduce((sum, role) => sum + role.kills, 0);
}

/**
 * One line per snapshot for logs that are not a terminal (CI). Plain `name value` pairs in a fixed
 * order and no colour, so the lines can be grepped and diffed between runs.
 */
export function renderProgressLine(snapshot: DevSnapshot): string {
  const { orders, stages, outcomes } = snapshot;
  const fields = [
    `[${formatDuration(snapshot.elapsedMs)}] ${snapshot.phase}`,
    `placed ${formatCount(orders.placed)}/${formatCount(orders.planned)}`,
    `settled ${formatCount(orders.terminal)}/${formatCount(orders.planned)} (${completionPercent(orders)}%)`,
    `published ${formatCount(stages.published.total)} (${formatRate(stages.published.perSecond)})`,
    `webhooks ${formatCount(stages.webhooks.total)}`,
    `backlog ${formatCount(snapshot.outboxBacklog)}`,
    `lag ${formatCount(snapshot.consumerLag)}`,
    `retries ${formatCount(snapshot.retries)}`,
    `dlq ${formatCount(snapshot.deadLetters)}`,
    `ok ${formatCount(outcomes.succeeded)} failed ${formatCount(outcomes.failed)}`,
    `kills ${formatCount(totalKills(snapshot.roles))}`,
  ];
  return `${fields.join('  ')}\n`;
}

function row(label: string, value: string): string {
  return `${chalk.dim(label.padEnd(14))}${value}`;
}

function pairs(entries: ReadonlyArray<readonly [string, number]>): string {
  return entries.map(([name, value]) => `${name} ${formatCount(value)}`).join('  ');
}

/** A number that should be zero after a healthy run stands out when it is not. */
function alarming(name: string, value: number): string {
  const text = `${name} ${formatCount(value)}`;
  return value > 0 ? chalk.red(text) : text;
}

function heading(summary: DevSummary): string {
  const failed = summary.checks.filter((check) => !check.ok).length;
  const verdict = summary.ok
    ? `${mark.ok()} ${chalk.bold('dev run passed')}`
    : `${mark.fail()} ${chalk.bold.red('dev run failed')}${failed ? chalk.red(` (${failed} of ${summary.checks.length} checks)`) : ''}`;
  const facts = [
    `run ${summary.runId}`,
    `seed ${summary.seed}`,
    formatDuration(summary.durationMs),
    `${summary.ordersPerSecond.toLocaleString('en-US', { maximumFractionDigits: 1 })} orders/s`,
    ...(summary.chaos ? ['chaos'] : []),
    ...(summary.incident ? ['incident staged'] : []),
  ];
  return `${verdict}  ${chalk.dim(facts.join('  '))}`;
}

function doubleCharged(ids: readonly string[]): string {
  if (!ids.length) return 'double-charged none';
  const shown = ids.slice(0, DOUBLE_CHARGED_SHOWN).join(', ');
  const more = ids.length > DOUBLE_CHARGED_SHOWN ? ` and ${formatCount(ids.length - DOUBLE_CHARGED_SHOWN)} more` : '';
  return chalk.red(`double-charged ${formatCount(ids.length)}: ${shown}${more}`);
}

function rolesLine(summary: DevSummary): string {
  const exits = alarming('unexpected exits', summary.unexpectedExits);
  if (!summary.chaos && !summary.infraRestarts) return row('roles', exits);
  const perRole = ROLE_NAMES.map((name) => `${name} ${formatCount(summary.kills[name])}`).join(', ');
  const infra = summary.infraRestarts
    ? `  restarts: PostgreSQL ${formatCount(summary.infraRestarts.postgres)}, Kafka broker ${formatCount(summary.infraRestarts.kafka)}`
    : '';
  return row('chaos', `kills ${formatCount(summary.kills.total)} (${perRole})${infra}  ${exits}`);
}

function whereLines(where: DevSummary['where']): string[] {
  // A passing run removes its database, topics and logs, so only a kept run points at them.
  if (!where.kept) return [row('run data', `removed: database, topics and logs (--keep keeps them)`)];
  return [
    row('database', redact(where.database)),
    row('topic prefix', where.topicPrefix),
    row('logs', where.logDir),
    ...(where.postgresCluster
      ? [
          row('postgres', `the run's own cluster, port ${where.postgresCluster.port}, data ${where.postgresCluster.dataDir}`),
          row('', `left running; \`stack down\` does not stop it: ${where.postgresCluster.stopCommand}`),
        ]
      : []),
    row('run data', 'kept'),
  ];
}

/** The end-of-run report: the verdict first, then the numbers behind it, then every check. */
export function renderDevSummary(summary: DevSummary): string {
  const { orders, emulator } = summary;
  const lines = [
    heading(summary),
    '',
    row(
      'orders',
      `${pairs([
        ['requested', orders.requested],
        ['placed', orders.placed],
        ['direct', orders.direct],
        ['checkout', orders.checkout],
      ])}  ${chalk.dim(`(expected succeeded ${formatCount(orders.expectedSucceeded)}, failed ${formatCount(orders.expectedFailed)})`)}`,
    ),
    row(
      'outcomes',
      `${pairs(OUTCOME_ORDER.map((status) => [status, summary.outcomes[status]] as const))}  ${alarming('missing', summary.missing)}`,
    ),
    row('compensated', formatCount(summary.compensated)),
    row(
      'emulator',
      `${pairs([
        ['orders charged', emulator.ordersCharged],
        ['successful charges', emulator.successfulCharges],
      ])}  ${doubleCharged(emulator.doubleCharged)}`,
    ),
    row(
      'pipeline',
      `${alarming('outbox backlog', summary.outboxBacklog)}  ${alarming('consumer lag', summary.consumerLag)}  ${alarming('dlq', summary.deadLetters)}  retries ${formatCount(summary.retries)}`,
    ),
    row(
      'duplicates',
      `absorbed by worker ${formatCount(summary.duplicatesAbsorbed.worker)}  by webhook receiver ${formatCount(summary.duplicatesAbsorbed.webhook)}`,
    ),
    rolesLine(summary),
    ...(summary.reconciliation
      ? [
          row(
            'reconcile',
            `${pairs([
              ['discrepancies', summary.reconciliation.found],
              ['healed', summary.reconciliation.healed],
              ['remaining', summary.reconciliation.remaining],
            ])}`,
          ),
        ]
      : []),
    ...(summary.incident
      ? [
          row(
            'incident',
            `${pairs([
              ['dead-lettered', summary.incident.deadLettered.length],
              ['awaiting dropped webhooks', summary.incident.awaitingWebhooks.length],
              ['deliveries dropped', summary.incident.droppedDeliveries],
            ])}`,
          ),
        ]
      : []),
    '',
    chalk.bold('checks'),
    ...summary.checks.map((check) => `  ${check.ok ? mark.ok() : mark.fail()} ${check.name} ${chalk.dim('—')} ${check.detail}`),
    '',
    ...whereLines(summary.where),
  ];
  return `${lines.join('\n')}\n`;
}
