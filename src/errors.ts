/**
 * Every failure the CLI can report is one of these classes; `exitCodeFor` is the only place
 * that turns an error into a process exit code. Domain modules throw these, the CLI renders them.
 */

export const ExitCode = {
  ok: 0,
  /** the operation ran and failed, or found a discrepancy */
  failed: 1,
  /** bad flags, bad or missing configuration */
  usage: 2,
  /** a service or tool it needs is unreachable or missing (database, Kafka, java, mvn, initdb) */
  unavailable: 3,
  /** stopped by SIGINT/SIGTERM before it finished */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class PaymentsctlError extends Error {
  abstract readonly exitCode: ExitCode;
  /** what the operator can do about it; printed under the message */
  readonly hint: string | undefined;

  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Wrong flags or arguments. */
export class UsageError extends PaymentsctlError {
  readonly exitCode = ExitCode.usage;
}

/** A setting is missing or invalid. `setting` names the environment variable or flag. */
export class ConfigError extends PaymentsctlError {
  readonly exitCode = ExitCode.usage;
  constructor(
    readonly setting: string,
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

/** A dependency (database, broker, binary) cannot be reached or found. */
export class UnavailableError extends PaymentsctlError {
  readonly exitCode = ExitCode.unavailable;
}

/** The operation ran and did not succeed (or found a discrepancy). */
export class OperationError extends PaymentsctlError {
  readonly exitCode = ExitCode.failed;
}

/** Stopped by SIGINT or SIGTERM before it finished. */
export class InterruptedError extends PaymentsctlError {
  readonly exitCode = ExitCode.interrupted;
}

/** An applied migration's file changed since it was applied. */
export class MigrationDriftError extends OperationError {}

/**
 * The database's schema is not the one this binary was built for (migrations pending past the wait,
 * applied migrations it does not know, or changed files): a deployment mistake, not an outage.
 */
export class SchemaMismatchError extends PaymentsctlError {
  readonly exitCode = ExitCode.usage;
}

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof PaymentsctlError) return error.exitCode;
  return ExitCode.failed;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
