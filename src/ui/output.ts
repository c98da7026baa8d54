import chalk from 'chalk';
import { PaymentsctlError, ConfigError, exitCodeFor, errorMessage } from '../errors.js';
import { redact } from '../redact.js';

/** One JSON document per command on stdout, so scripts can pipe it to jq. */
export function renderJson(value: unknown): string {
  return `${redact(JSON.stringify(value, null, 2))}\n`;
}

export function renderErrorText(error: unknown): string {
  const message = redact(errorMessage(error));
  const hint = error instanceof PaymentsctlError && error.hint ? `\n  ${chalk.dim('→')} ${redact(error.hint)}` : '';
  return `${chalk.red('error:')} ${message}${hint}\n`;
}

export function renderErrorJson(error: unknown): string {
  return renderJson({
    error: {
      type: error instanceof Error ? error.name : 'Error',
      message: errorMessage(error),
      ...(error instanceof PaymentsctlError && error.hint ? { hint: error.hint } : {}),
      ...(error instanceof ConfigError ? { setting: error.setting } : {}),
      exitCode: exitCodeFor(error),
    },
  });
}

/** `KEY=value` lines a POSIX shell can `eval` or `export`; values quoted only when they need it. */
export function renderEnvLines(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}=${/^[A-Za-z0-9_@%+=:,./-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`}`)
    .join('\n')
    .concat('\n');
}

export const mark = {
  ok: () => chalk.green('✓'),
  fail: () => chalk.red('✗'),
  pending: () => chalk.yellow('•'),
};
