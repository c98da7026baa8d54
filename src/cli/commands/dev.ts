import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { ExitCode, UsageError } from '../../errors.js';
import { INCIDENT_DEAD_LETTERS, INCIDENT_DROP_RATE } from '../../dev/incident-size.js';

interface DevFlags {
  orders: string;
  rate: string;
  declineRate: string;
  checkoutShare: string;
  chaos?: boolean;
  chaosInfra?: boolean;
  keep?: boolean;
  incident?: boolean;
  seed?: string;
  stallTimeout: string;
}

export function devCommand(ctx: () => CliContext): Command {
  return new Command('dev')
    .summary('run the whole pipeline locally, drive orders through it, and check that no payment was lost or doubled')
    .description(
      'Bring up (or reuse) the local stack, run publish-outbox, worker and webhook-serve as child processes,\n' +
        'place orders through the outbox — direct charges, declines, Checkout Sessions paid through signed\n' +
        'webhooks — and end with an invariant check: every order has exactly one terminal outcome, every\n' +
        'declined order was compensated, the emulator charged each order at most once and exactly the ones\n' +
        'the payments table says succeeded, nothing is left in the outbox, a consumer group or a DLQ.\n' +
        'Before the checks it runs `reconcile --fix --execute` over the run: without --chaos it must find\n' +
        'nothing; with --chaos it heals the outcomes whose webhooks the emulator dropped.\n' +
        'Each run gets its own database and topic prefix, removed afterwards unless a check failed or --keep.\n' +
        'Exit 0 only if every check holds; 1 if one does not.',
    )
    .option('--orders <n>', 'orders to place', '1000')
    .option('--rate <n>', 'orders placed per second; 0 = as fast as possible', '200')
    .option('--decline-rate <0..1>', 'share of orders whose card is declined (they must be compensated)', '0.1')
    .option(
      '--checkout-share <0..1>',
      'share of orders paid through a Checkout Session and its webhooks instead of a direct PaymentIntent',
      '0.25',
    )
    .option(
      '--chaos',
      'SIGKILL and restart the roles at random while orders flow, and turn on Stripe faults (500s, resets, timeouts, duplicate, reordered and dropped webhooks — the dropped ones healed by reconcile at the end)',
    )
    .option(
      '--chaos-infra',
      'also restart PostgreSQL and SIGKILL the Kafka broker (brought back on the same address) during the run, at least twice each; ' +
        'the run then uses a throwaway PostgreSQL cluster of its own, and needs a broker the stack started — never a server it did not start',
    )
    .option('--keep', 'after a passing run, leave the pipeline running (Ctrl-C stops the roles) and keep its database and topics')
    .option(
      '--incident',
      `end the run with an incident for you to heal, as after an outage: Stripe refuses ${INCIDENT_DEAD_LETTERS} orders (429) until their payments are dead-lettered, ` +
        `${INCIDENT_DROP_RATE * 100}% of webhooks are dropped, and nothing reconciles. The checks confirm the incident is the one staged; the pipeline is kept (implies --keep) ` +
        'with the commands that heal it (replay dlq, replay stripe-events), and the run says when every check holds again. Exit 0 only if it was healed before Ctrl-C',
    )
    .option('--seed <n>', 'seed for the order mix and the chaos (default: random, printed in the summary)')
    .option('--stall-timeout <duration>', 'stop waiting when nothing has moved for this long; the checks then show what is missing', '60s')
    .addHelpText(
      'after',
      '\nExamples:\n  paymentsctl dev --orders 1000\n  paymentsctl dev --orders 2000 --chaos --json | jq .checks\n  paymentsctl dev --orders 2000 --chaos --chaos-infra --json\n  paymentsctl dev --orders 500 --incident        # then heal it from another shell\n\n' +
        'On a terminal it shows a live view; otherwise it prints a progress line every 2 s (on stderr with --json).',
    )
    .action(async (flags: DevFlags) => {
      const c = ctx();
      const options = await parseFlags(flags);
      const { runDev } = await import('../../dev/run.js');
      const { createDevReporter } = await import('../../ui/dev-report.js');
      const { interruptible } = await import('../interrupt.js');
      const report = await createDevReporter({ ...c, tty: Boolean(process.stdout.isTTY) });
      try {
        const summary = await interruptible((signal, untilSignalled) =>
          runDev({
            ...options,
            env: process.env,
            log: report.log,
            signal,
            onStep: report.onStep,
            onSnapshot: report.onSnapshot,
            onSummary: report.onSummary,
            holdOpen: async (variables, incident) => {
              report.keptRunning(variables, incident);
              await untilSignalled();
            },
            onHealed: report.healed,
          }),
        );
        if (summary.incident && !summary.incident.healed && summary.ok) report.stoppedUnhealed();
        if (!summary.ok || (summary.incident && !summary.incident.healed)) c.exitCode = ExitCode.failed;
      } finally {
        report.stop();
      }
    });
}

async function parseFlags(flags: DevFlags) {
  if (flags.incident && (flags.chaos || flags.chaosInfra))
    throw new UsageError('--incident cannot be combined with --chaos or --chaos-infra', {
      hint: '--chaos heals what it breaks by reconciling at the end; --incident leaves it for you to heal — run them separately',
    });
  const { fraction, positiveInt, durationMs } = await import('../../config.js');
  const { randomSeed } = await import('../../random.js');
  return {
    orders: positiveInt(flags.orders, '--orders', { max: 1_000_000 }),
    ratePerSecond: positiveInt(flags.rate, '--rate', { min: 0, max: 100_000 }),
    declineRate: fraction(flags.declineRate, '--decline-rate'),
    checkoutShare: fraction(flags.checkoutShare, '--checkout-share'),
    seed: flags.seed === undefined ? randomSeed() : positiveInt(flags.seed, '--seed', { min: 0, max: 2 ** 31 - 1 }),
    stallTimeoutMs: durationMs(flags.stallTimeout, '--stall-timeout', { min: 1_000 }),
    chaos: Boolean(flags.chaos),
    chaosInfra: Boolean(flags.chaosInfra),
    keep: Boolean(flags.keep) || Boolean(flags.incident),
    incident: Boolean(flags.incident),
  };
}
