import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { printResult } from '../print.js';
import type { StackInfo } from '../../stack/stack.js';
import { ExitCode } from '../../errors.js';

export function stackCommand(ctx: () => CliContext): Command {
  const stack = new Command('stack')
    .summary('local PostgreSQL + Kafka without Docker: up, down, status, env')
    .description('Start a local PostgreSQL and a real Apache Kafka broker (KRaft) without Docker, for development and tests');

  stack
    .command('up')
    .description(
      'Bring the stack up (or reuse the running one) and print DATABASE_URL= and KAFKA_BROKERS= lines to export.\n' +
        'PostgreSQL: DATABASE_URL if set, else a server on 127.0.0.1:5432, else a throwaway cluster (initdb/pg_ctl).\n' +
        'Kafka: KAFKA_BROKERS if set, else Apache Kafka (KAFKA_VERSION, default 3.9.1) resolved by Maven and run with java.\n' +
        'Stripe: STRIPE_API_BASE if set, the real API if only a key is set, else the built-in emulator\n' +
        '(then also STRIPE_API_KEY= and STRIPE_WEBHOOK_SECRET= lines for it).',
    )
    .option('--fresh-postgres', 'start a throwaway PostgreSQL cluster even if a server listens on 127.0.0.1:5432')
    .option('--no-stripe-emulator', 'do not start the Stripe emulator (it is skipped anyway when STRIPE_API_BASE or a Stripe key is set)')
    .addHelpText('after', '\nExample:\n  eval "$(paymentsctl stack up)" && paymentsctl migrate')
    .action(async (flags: { freshPostgres?: boolean; stripeEmulator: boolean }) => {
      const c = ctx();
      const { stackUp } = await import('../../stack/stack.js');
      const info = await stackUp({ freshPostgres: flags.freshPostgres, stripeEmulator: flags.stripeEmulator, log: c.log });
      c.log.info(
        { reused: info.reused, postgres: info.state.postgres.mode, kafka: info.state.kafka.mode, stripe: info.state.stripe?.mode },
        info.reused ? 'reusing the running stack' : 'stack is up',
      );
      await printStackInfo(c, info);
    });

  stack
    .command('down')
    .description('Stop exactly what `stack up` started and delete its throwaway data; servers it only used are left running')
    .action(async () => {
      const c = ctx();
      const { stackDown } = await import('../../stack/stack.js');
      const { renderStackDown } = await import('../../ui/stack.js');
      await printResult(c, await stackDown({ log: c.log }), renderStackDown);
    });

  stack
    .command('status')
    .description('Show what runs where; exits 1 when the stack is not up or a part of it is unhealthy')
    .action(async () => {
      const c = ctx();
      const { stackStatus } = await import('../../stack/stack.js');
      const { renderStackStatus } = await import('../../ui/stack.js');
      const status = await stackStatus({ log: c.log });
      await printResult(c, status, renderStackStatus);
      if (!status.running) c.exitCode = ExitCode.failed;
    });

  stack
    .command('env')
    .description("Print the running stack's DATABASE_URL=, KAFKA_BROKERS= (and STRIPE_…=) lines again")
    .action(async () => {
      const c = ctx();
      const { stackEnv } = await import('../../stack/stack.js');
      await printStackInfo(c, await stackEnv({ log: c.log }));
    });

  return stack;
}

async function printStackInfo(c: CliContext, info: StackInfo): Promise<void> {
  const { renderStackEnv, stackInfoJson } = await import('../../ui/stack.js');
  await printResult(c, info, renderStackEnv, stackInfoJson);
}
