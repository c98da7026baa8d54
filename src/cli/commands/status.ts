import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { addStoreOptions, collect, type StoreFlags } from '../options.js';
import { ExitCode } from '../../errors.js';

interface StatusFlags extends StoreFlags {
  group: string[];
  maxOutboxAge: string;
  maxDeadLetters: string;
  growingLooks: string;
  maxPending: string;
  maxTimeLag: string;
  maxWebhookSilence: string;
  looks: string;
  lookInterval: string;
  outboxRetain: string;
  peek: boolean;
  watch?: boolean;
  refresh: string;
}

export function statusCommand(ctx: () => CliContext): Command {
  const command = new Command('status')
    .summary('is the pipeline healthy? outbox, publishers, consumer lag, retries, DLQs, payments, webhooks, Stripe')
    .description(
      'Read the health of the whole pipeline from PostgreSQL and Kafka themselves (the roles may be dead),\n' +
        'with the settings the roles use, and list every finding over its threshold first:\n' +
        "  outbox       unpublished rows per topic and the oldest one's age; rows set aside; rows past retention\n" +
        '  publisher    which session leads each topic (pg_locks + pg_stat_activity) and the latest term\n' +
        '  consumers    the worker groups (and --group): state, members, lag per partition, time lag (the age\n' +
        "               of the message at the committed offset), and Burrow's verdict over the looks taken:\n" +
        '               OK · WARN lag growing · STALL offset not moving while lag > 0 · STOP never committed\n' +
        '  retries      copies waiting in <topic>.retry.<n> and the next due time\n' +
        '  dead letters depth per DLQ, oldest message, the top error kinds and reasons\n' +
        '  payments     counts by status, payments pending or requires_action too long\n' +
        '  webhooks     age of the last Stripe event, events in the last hour by type\n' +
        '  stripe       reachable (one cheap read), test or live mode; the key is never printed\n' +
        'Read-only. Exit 0 healthy · 1 degraded (findings listed) · 3 PostgreSQL or Kafka unreachable.',
    )
    .addOption(new Option('--group <id>', 'also judge this consumer group (repeatable)').argParser(collect).default([]))
    .option('--max-outbox-age <duration>', 'oldest unpublished outbox row older than this is a finding', '60s')
    .option('--max-dead-letters <n>', 'more dead letters than this in a DLQ is a finding', '0')
    .option('--growing-looks <n>', 'lag growing over this many looks in a row is WARN', '3')
    .option('--max-pending <duration>', 'a payment pending or requires_action longer than this is stuck', '15m')
    .option('--max-time-lag <duration>', 'a group whose next message is older than this is behind; 0 turns it off', '5m')
    .option('--max-webhook-silence <duration>', 'no Stripe webhook for this long is a finding; 0 turns it off', '0')
    .option('--looks <n>', 'looks at Kafka the consumer verdicts are judged over (one report)', '3')
    .option('--look-interval <duration>', 'time between those looks', '1s')
    .option('--outbox-retain <duration>', "the publisher's --retain: published rows older than this should be gone", '24h')
    .option('--no-peek', 'do not read messages (no time lag, next due time or DLQ error kinds; faster)')
    .option('--watch', 'a live view, refreshed every --refresh, with the trend of backlog and lag (q quits)')
    .option('--refresh <duration>', 'refresh interval of --watch', '5s')
    .addHelpText(
      'after',
      '\nStripe is checked when STRIPE_API_KEY (and STRIPE_API_BASE for a stand-in) is set.\n\n' +
        'Examples:\n  paymentsctl status\n  paymentsctl status --json | jq .findings\n  paymentsctl status --watch',
    );
  addStoreOptions(command);
  return command.action(async (flags: StatusFlags) => {
    const c = ctx();
    const { options, window } = await parseFlags(flags);
    if (flags.watch) {
      const { watchStatus } = await import('../../ui/status-view.js');
      const { StatusMonitor } = await import('../../ops/status/status.js');
      c.exitCode = await watchStatus(new StatusMonitor({ ...options, log: c.log }), { refreshMs: window.refreshMs });
      return;
    }
    const { pipelineStatus } = await import('../../ops/status/status.js');
    const { renderStatus } = await import('../../ui/status.js');
    const { printResult } = await import('../print.js');
    const report = await pipelineStatus({ ...options, log: c.log }, window);
    await printResult(c, report, renderStatus);
    c.exitCode = report.verdict === 'healthy' ? ExitCode.ok : report.verdict === 'degraded' ? ExitCode.failed : ExitCode.unavailable;
  });
}

async function parseFlags(flags: StatusFlags) {
  const { databaseUrl, kafkaBrokers, kafkaSecurity, topicPrefix, positiveInt, durationMs, rawSetting, stripeApiKey, stripeApiBase } =
    await import('../../config.js');
  const stripe = rawSetting('stripeApiKey') ? { apiKey: stripeApiKey(), apiBase: stripeApiBase() } : undefined;
  return {
    options: {
      databaseUrl: databaseUrl(flags),
      brokers: kafkaBrokers(flags),
      kafkaSecurity: kafkaSecurity(flags),
      topicPrefix: topicPrefix(flags),
      groups: flags.group,
      thresholds: {
        maxOutboxAgeMs: durationMs(flags.maxOutboxAge, '--max-outbox-age'),
        maxDeadLetters: positiveInt(flags.maxDeadLetters, '--max-dead-letters', { min: 0 }),
        growingLooks: positiveInt(flags.growingLooks, '--growing-looks', { min: 2, max: 10 }),
        maxPendingMs: durationMs(flags.maxPending, '--max-pending'),
        maxTimeLagMs: durationMs(flags.maxTimeLag, '--max-time-lag'),
        maxWebhookSilenceMs: durationMs(flags.maxWebhookSilence, '--max-webhook-silence'),
      },
      outboxRetainMs: durationMs(flags.outboxRetain, '--outbox-retain'),
      peekMessages: flags.peek,
      ...(stripe ? { stripe } : {}),
    },
    window: {
      looks: positiveInt(flags.looks, '--looks', { min: 1, max: 10 }),
      intervalMs: durationMs(flags.lookInterval, '--look-interval'),
      refreshMs: durationMs(flags.refresh, '--refresh', { min: 500 }),
    },
  };
}
