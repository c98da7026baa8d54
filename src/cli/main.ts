import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, exitCodeFor } from '../errors.js';
import { createLogger, LOG_LEVELS, setLogger, type LogLevel } from '../log.js';
import { packageRoot } from '../stack/paths.js';
import type { CliContext } from './context.js';
import { reflowParagraphs, wrapHelpText } from './help-text.js';
import { globalsOf } from './context.js';
import { stackCommand } from './commands/stack.js';
import { migrateCommand } from './commands/migrate.js';
import { topicsCommand } from './commands/topics.js';
import { publishOutboxCommand } from './commands/publish-outbox.js';
import { stripeEmulatorCommand } from './commands/stripe-emulator.js';
import { workerCommand } from './commands/worker.js';
import { webhookServeCommand } from './commands/webhook-serve.js';
import { devCommand } from './commands/dev.js';
import { applyCommand } from './commands/apply.js';
import { historyCommand } from './commands/history.js';
import { historyServeCommand } from './commands/history-serve.js';
import { reconcileCommand } from './commands/reconcile.js';
import { tailCommand } from './commands/tail.js';
import { statusCommand } from './commands/status.js';
import { replayCommand } from './commands/replay.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export interface MainIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

export function buildProgram(context: () => CliContext, io: Required<MainIo>): Command {
  const program = new Command('paymentsctl')
    .description('Run and operate an event-driven payments pipeline: transactional outbox on PostgreSQL, Kafka, Stripe.')
    .version(packageVersion(), '-V, --version')
    .option('--json', 'print one JSON document on stdout (errors too)')
    .addOption(new Option('--log-level <level>', 'log verbosity (logs go to stderr)').choices(LOG_LEVELS).env('LOG_LEVEL').default('info'))
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .configureHelp({
      commandDescription: (cmd) => reflowParagraphs(cmd.description()),
      boxWrap: (text, width) => wrapHelpText(text, width),
    })
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit codes: 0 ok · 1 operation failed or discrepancy found · 2 usage or configuration error ·\n' +
        '3 a required service or tool is unavailable · 130 interrupted',
    );
  // Subcommands inherit exitOverride and output settings only when added after they are set.
  for (const make of [
    devCommand,
    stackCommand,
    migrateCommand,
    topicsCommand,
    publishOutboxCommand,
    workerCommand,
    webhookServeCommand,
    stripeEmulatorCommand,
    applyCommand,
    historyCommand,
    historyServeCommand,
    reconcileCommand,
    statusCommand,
    tailCommand,
    replayCommand,
  ]) {
    const command = make(context);
    copySettings(program, command);
    program.addCommand(command);
  }
  return program;
}

function copySettings(from: Command, to: Command): void {
  to.copyInheritedSettings(from);
  for (const sub of to.commands) copySettings(to, sub);
}

/** Runs the CLI; returns the exit code instead of exiting so tests and the shim decide. */
export async function main(argv: string[], io: MainIo = {}): Promise<number> {
  const out = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const err = io.stderr ?? ((text: string) => void process.stderr.write(text));
  let ctx: CliContext | undefined;
  let json = argv.includes('--json');
  const context = (): CliContext => {
    if (!ctx) throw new Error('context requested before parsing');
    return ctx;
  };
  const program = buildProgram(context, { stdout: out, stderr: err });
  program.hook('preAction', (_program, action) => {
    const globals = globalsOf(action);
    json = Boolean(globals.json);
    const log = createLogger({ level: (globals.logLevel ?? 'info') as LogLevel });
    setLogger(log);
    ctx = { json, log, stdout: out, stderr: err };
  });
  try {
    await program.parseAsync(argv);
    return ctx?.exitCode ?? ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.ok;
      return ExitCode.usage;
    }
    const { renderErrorJson, renderErrorText } = await import('../ui/output.js');
    if (json) out(renderErrorJson(error));
    else err(renderErrorText(error));
    return exitCodeFor(error);
  }
}
