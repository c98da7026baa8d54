import chalk from 'chalk';
import { stackVariables, type StackStatus, type StackDownResult, type ComponentStatus, type StackInfo } from '../stack/stack.js';
import { mark, renderEnvLines } from './output.js';

function component(name: string, status: ComponentStatus): string[] {
  const how = status.managed
    ? `started by stack up, pid ${status.pid}`
    : status.mode === 'env'
      ? 'from the environment'
      : 'existing server';
  const lines = [
    `${status.healthy ? mark.ok() : mark.fail()} ${chalk.bold(name.padEnd(8))} ${status.url}  ${chalk.dim(`(${how}${status.version ? `, Kafka ${status.version}` : ''})`)}`,
  ];
  if (status.logFile) lines.push(chalk.dim(`           log: ${status.logFile}`));
  return lines;
}

export function renderStackStatus(status: StackStatus): string {
  if (!status.postgres || !status.kafka) return `no local stack is running (state: ${status.stateDir})\n`;
  const stripe = status.stripe ? component('stripe', status.stripe) : [];
  return `${[...component('postgres', status.postgres), ...component('kafka', status.kafka), ...stripe].join('\n')}\n`;
}

export function renderStackDown(result: StackDownResult): string {
  if (!result.stopped.length && !result.left.length) return 'no local stack was running\n';
  return `${[...result.stopped.map((s) => `${mark.ok()} stopped ${s}`), ...result.left.map((s) => `${mark.pending()} left ${s}`)].join('\n')}\n`;
}

/** `stack up` / `stack env`: the lines to export. */
export function renderStackEnv(info: StackInfo): string {
  return renderEnvLines(stackVariables(info.state));
}

/** `stack up` / `stack env` with --json: where things are. */
export function stackInfoJson(info: StackInfo): Record<string, unknown> {
  return {
    databaseUrl: info.databaseUrl,
    kafkaBrokers: info.kafkaBrokers,
    ...(info.stripeApiBase ? { stripeApiBase: info.stripeApiBase } : {}),
    reused: info.reused,
  };
}
