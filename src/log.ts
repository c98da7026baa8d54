import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';
import { redact } from './redact.js';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = LevelWithSilent;

export interface LoggerOptions {
  level?: LogLevel;
  /** pretty lines for a person; defaults to whether stderr is a terminal */
  pretty?: boolean;
  name?: string;
}

/**
 * Logs go to stderr so stdout stays clean for `--json` and for `eval "$(paymentsctl stack env)"`.
 * JSON lines for machines and containers; readable lines on a terminal.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const wantPretty = options.pretty ?? Boolean(process.stderr.isTTY);
  const base = {
    level,
    base: options.name ? { name: options.name } : undefined,
    // Field-level redaction for structured fields; string-level scrubbing below for the rest.
    redact: {
      paths: ['password', '*.password', 'apiKey', '*.apiKey', 'secret', '*.secret', 'databaseUrl', '*.databaseUrl'],
      censor: (value: unknown) => (typeof value === 'string' ? redact(value) : '***'),
    },
    hooks: {
      logMethod(args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? redact(arg) : arg)),
        );
      },
    },
    serializers: {
      // A log call must never throw: anything that is not an Error is logged as redacted text.
      err: (err: unknown) => {
        if (!(err instanceof Error)) return redact(String(err));
        const serialized = pino.stdSerializers.err(err);
        return { ...serialized, message: redact(String(serialized.message)), stack: serialized.stack && redact(serialized.stack) };
      },
    },
  };
  if (wantPretty) {
    return pino(base, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname' }));
  }
  return pino(base, pino.destination({ fd: 2, sync: true }));
}

let rootLogger: Logger | undefined;

/** The process-wide logger; the CLI configures it once from `--log-level`. */
export function logger(): Logger {
  rootLogger ??= createLogger({ level: (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info' });
  return rootLogger;
}

export function setLogger(log: Logger): void {
  rootLogger = log;
}

/**
 * Node prints process warnings as plain text on stderr, where a role writes JSON lines: they go
 * through the logger instead. On Node 24 kafkajs's request queue arms a timer from an unset
 * throttle time (-1), which Node reports as a TimeoutNegativeWarning and runs at once — harmless, so
 * at debug.
 */
export function logProcessWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const fields = { warning: warning.name, ...(warning.stack ? { stack: warning.stack } : {}) };
    if (warning.name === 'TimeoutNegativeWarning') logger().debug(fields, warning.message);
    else logger().warn(fields, warning.message);
  });
}
