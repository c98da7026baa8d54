import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { addStoreOptions, collect, type StoreFlags } from '../options.js';

interface DlqFlags extends StoreFlags {
  topic: string[];
  since?: string;
  until?: string;
  key?: string;
  type?: string;
  errorKind?: string;
  reason?: string;
  eventId: string[];
  limit?: string;
  to?: string;
  again?: boolean;
  execute?: boolean;
  rate: string;
}

interface OutboxFlags extends StoreFlags {
  topic: string[];
  eventId: string[];
  limit?: string;
  published?: boolean;
  since?: string;
  until?: string;
  discard?: boolean;
  reason?: string;
  execute?: boolean;
}

interface StripeEventsFlags extends StoreFlags {
  since?: string;
  until?: string;
  type: string[];
  limit?: string;
  resend?: boolean;
  webhookEndpoint?: string;
  execute?: boolean;
}

const STRIPE_EVENTS_HELP_AFTER = `
Which events: GET /v1/events with delivery_success=false (Stripe's own word that an endpoint did not
take it), or every event in the window where Stripe does not take that filter; --since defaults to 3 days
ago and may go back at most 30 days (Stripe keeps events that long). Oldest first. Events already in
webhook_events reached the receiver and are skipped; types the receiver does not act on are listed as
ignored. The rest are fed through the receiver's own processing (same mapping, same transaction, same
dedupe: an event delivered meanwhile is recorded once), or with --resend delivered again by Stripe to
the endpoint (POST /v1/events/{id}/retry, as Stripe CLI's events resend). Each run that acts is recorded
(replay list, replay show). Stripe is reached with STRIPE_API_KEY (and STRIPE_API_BASE, if set).

Exit codes: 0 done (a dry run lists what it would do) · 1 some events could not be replayed (listed) ·
2 a bad selection, or --resend without one enabled endpoint and no --webhook-endpoint ·
3 PostgreSQL or Stripe unreachable

Examples:
  paymentsctl replay stripe-events                               # what would be fed, oldest first
  paymentsctl replay stripe-events --since 6h --type 'checkout.session.*' --execute
  paymentsctl replay stripe-events --resend --webhook-endpoint we_123 --execute --json`;

const DLQ_HELP_AFTER = `
What a copy carries: the dead letter's key (same partition), its value byte for byte and every header
(the ce_* ones with the same ce_id, so an inbox that processed it already drops it), except the
dead-letter headers (paymentsctl_attempts, _error, _error_kind, _dlq_reason, _failed_at, _due_at,
_original_*). paymentsctl_consumer stays: the copy is for the handler that failed it. Added, replaced on
every replay so they never pile up: paymentsctl_replay_id, _replayed_at, _replay_source_topic,
_replay_source_partition, _replay_source_offset, _replay_count.

Each copy is recorded in the replays tables before it is sent and once the broker acknowledged it
(idempotent producer, acks from all in-sync replicas): a dead letter replayed before is skipped unless
--again, and after Ctrl-C the same command goes on where it stopped.

Exit codes: 0 done (a dry run lists what it would send) · 1 some messages could not be replayed (listed) ·
2 a bad selection or destination · 3 PostgreSQL or Kafka unreachable · 130 interrupted

Examples:
  paymentsctl replay dlq                                        # what would be replayed, grouped
  paymentsctl replay dlq --topic orders.placed --since 2h --error-kind transient --execute
  paymentsctl replay dlq --event-id 5f0c…  --execute --json
  paymentsctl replay list && paymentsctl replay show 12`;

export function replayCommand(ctx: () => CliContext): Command {
  const replay = new Command('replay')
    .summary(
      'put failed work back through the pipeline: dead letters, set-aside outbox rows, missed Stripe events (dry run unless --execute)',
    )
    .description(
      'Re-drive what failed during an incident, once its cause is fixed, without losing a message or ' +
        'sending one twice: dead letters back to the topic each came from, outbox rows the publisher set aside back to it, Stripe events that never reached the receiver through it. Dry run unless --execute; ' +
        'every run that acts is recorded (replay list, replay show).',
    );

  const dlq = replay
    .command('dlq')
    .summary('dead letters back to the topic each came from (dry run unless --execute)')
    .description(
      'Send dead letters back to the topic each came from (its paymentsctl_original_topic header), or with ' +
        "--to to one of the pipeline's own topics or retry topics. Without --execute: what would be sent, " +
        'grouped by original topic × error kind × reason, with counts and a sample.',
    )
    .addOption(
      new Option('--topic <name>', 'which dead-letter topics (orders.placed or orders.placed.dlq; repeatable); default all')
        .argParser(collect)
        .default([]),
    )
    .option('--since <time>', 'only dead-lettered at or after this ISO time or duration ago (2h, 1d)')
    .option('--until <time>', 'only dead-lettered at or before this ISO time or duration ago')
    .option('--key <glob>', 'only messages whose key matches')
    .option('--type <glob>', 'only messages whose CloudEvents type (ce_type) matches')
    .addOption(new Option('--error-kind <kind>', 'only this error kind').choices(['transient', 'permanent', 'invalid_message']))
    .option('--reason <glob>', 'only this dead-letter reason (retries_exhausted, permanent_error, invalid_message) or error text')
    .addOption(new Option('--event-id <id>', 'only this CloudEvents id (repeatable)').argParser(collect).default([]))
    .option('--limit <n>', 'at most this many messages (in topic, partition, offset order)')
    .option('--to <topic>', 'send every copy to this topic (without the prefix) instead of its own')
    .option('--again', 'also send messages replayed before (inboxes drop what was processed)')
    .option('--execute', 'send them (default: dry run)')
    .option('--rate <n>', 'messages per second at most', '100');
  addStoreOptions(dlq);
  dlq.addHelpText('after', DLQ_HELP_AFTER).action(async (flags: DlqFlags) => {
    const c = ctx();
    const { databaseUrl, kafkaBrokers, kafkaSecurity, topicPrefix, positiveInt } = await import('../../config.js');
    const { UsageError } = await import('../../errors.js');
    const { replayDeadLetters } = await import('../../ops/replay/dlq.js');
    const { renderJson } = await import('../../ui/output.js');
    const { renderDlqReport, replayProgressReporter } = await import('../../ui/replay.js');
    const { interruptible } = await import('../interrupt.js');
    const now = Date.now();
    const sinceMs = await timeFlag(flags.since, '--since', now);
    const untilMs = await timeFlag(flags.until, '--until', now);
    if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) throw new UsageError('--since is after --until');
    const rate = positiveInt(flags.rate, '--rate', { min: 1, max: 10_000 });
    const progress = replayProgressReporter(c.stderr, !c.json && Boolean(process.stderr.isTTY));
    const report = await interruptible((signal) =>
      replayDeadLetters({
        databaseUrl: databaseUrl(flags),
        brokers: kafkaBrokers(flags),
        kafkaSecurity: kafkaSecurity(flags),
        prefix: topicPrefix(flags),
        topics: flags.topic,
        selection: {
          ...(sinceMs !== undefined ? { sinceMs } : {}),
          ...(untilMs !== undefined ? { untilMs } : {}),
          ...(flags.key !== undefined ? { key: flags.key } : {}),
          ...(flags.type !== undefined ? { type: flags.type } : {}),
          ...(flags.errorKind !== undefined ? { errorKind: flags.errorKind } : {}),
          ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
          eventIds: flags.eventId,
          ...(flags.limit !== undefined ? { limit: positiveInt(flags.limit, '--limit', { min: 1 }) } : {}),
        },
        ...(flags.to !== undefined ? { to: flags.to } : {}),
        again: Boolean(flags.again),
        execute: Boolean(flags.execute),
        rate,
        log: c.log,
        signal,
        onProgress: progress.update,
      }),
    ).finally(progress.done);
    c.stdout(c.json ? renderJson(report) : renderDlqReport(report));
    c.exitCode = report.exitCode;
  });

  const outbox = replay
    .command('outbox')
    .summary('set-aside outbox rows: list, reset (--execute) or discard; --published sends published events again')
    .description(
      'Outbox rows the publisher set aside (Kafka would not take them: too large, unknown topic, ...), listed ' +
        'with their errors. --execute resets them so the publisher sends them again once the cause is fixed; ' +
        '--discard --reason TEXT --execute moves them to outbox_discarded instead (kept whole with the reason, ' +
        'never deleted), so they no longer hold back the later events of their key. --published instead sends ' +
        'events already published again (same event id, so inboxes that have them drop them) for a downstream ' +
        'that lost data. Audited per run and row.',
    )
    .addOption(new Option('--topic <name>', 'only rows of this outbox topic (repeatable)').argParser(collect).default([]))
    .addOption(new Option('--event-id <uuid>', 'only this event (repeatable)').argParser(collect).default([]))
    .option('--limit <n>', 'at most this many rows (oldest first)')
    .option('--published', 'instead: send events already published again (same event id), chosen by --event-id or --since/--until')
    .option('--since <time>', 'with --published: created at or after this ISO time or duration ago')
    .option('--until <time>', 'with --published: created at or before this ISO time or duration ago')
    .option('--discard', 'discard the rows instead of resetting them (needs --reason)')
    .option('--reason <text>', 'why they are discarded: kept with each row')
    .option('--execute', 'reset (or discard) them (default: dry run)')
    .addHelpText(
      'after',
      '\nExamples:\n  paymentsctl replay outbox\n  paymentsctl replay outbox --event-id 0b6e…  --execute\n' +
        "  paymentsctl replay outbox --topic orders.placed --discard --reason 'test order, never to be sent' --execute\n" +
        '  paymentsctl replay outbox --published --topic payments.completed --since 2026-03-01T10:00Z --until 2026-03-01T12:00Z --execute',
    );
  addStoreOptions(outbox, ['databaseUrl']);
  outbox.action(async (flags: OutboxFlags) => {
    const c = ctx();
    const { databaseUrl, positiveInt } = await import('../../config.js');
    const { replayOutbox } = await import('../../ops/replay/outbox.js');
    const { renderJson } = await import('../../ui/output.js');
    const { renderOutboxReport } = await import('../../ui/replay.js');
    const now = Date.now();
    const sinceMs = await timeFlag(flags.since, '--since', now);
    const untilMs = await timeFlag(flags.until, '--until', now);
    const report = await replayOutbox({
      databaseUrl: databaseUrl(flags),
      topics: flags.topic,
      eventIds: flags.eventId,
      ...(flags.limit !== undefined ? { limit: positiveInt(flags.limit, '--limit', { min: 1 }) } : {}),
      discard: Boolean(flags.discard),
      published: Boolean(flags.published),
      ...(sinceMs !== undefined ? { sinceMs } : {}),
      ...(untilMs !== undefined ? { untilMs } : {}),
      ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
      execute: Boolean(flags.execute),
      log: c.log,
    });
    c.stdout(c.json ? renderJson(report) : renderOutboxReport(report));
    c.exitCode = report.exitCode;
  });

  const stripeEvents = replay
    .command('stripe-events')
    .summary('Stripe events that never reached us, fed through the receiver (or --resend by Stripe); dry run unless --execute')
    .description(
      'Stripe events the webhook receiver never got (a dropped delivery, an outage longer than Stripe retries), ' +
        "listed from Stripe and put through the receiver's own processing here, not over HTTP; or with --resend " +
        'delivered again by Stripe to the webhook endpoint. Without --execute: what would be fed or resent.',
    )
    .option('--since <time>', 'events created at or after this ISO time or duration ago (default 3d; at most 30 days back)')
    .option('--until <time>', 'events created at or before this ISO time or duration ago (default now)')
    .addOption(
      new Option('--type <type>', 'only this Stripe event type, e.g. payment_intent.succeeded or payment_intent.* (repeatable)')
        .argParser(collect)
        .default([]),
    )
    .option('--limit <n>', 'at most this many events fed or resent (oldest first)')
    .option('--resend', 'ask Stripe to deliver them again to the webhook endpoint instead of feeding them here')
    .option('--webhook-endpoint <id>', 'with --resend: the endpoint (we_...); default the only enabled one')
    .option('--execute', 'feed (or resend) them (default: dry run)');
  addStoreOptions(stripeEvents, ['databaseUrl']);
  stripeEvents.addHelpText('after', STRIPE_EVENTS_HELP_AFTER).action(async (flags: StripeEventsFlags) => {
    const c = ctx();
    const { databaseUrl, positiveInt, stripeApiBase, stripeApiKey } = await import('../../config.js');
    const { replayStripeEvents } = await import('../../ops/replay/stripe-events.js');
    const { renderJson } = await import('../../ui/output.js');
    const { renderStripeEventsReport, replayProgressReporter } = await import('../../ui/replay.js');
    const now = Date.now();
    const sinceMs = await timeFlag(flags.since, '--since', now);
    const untilMs = await timeFlag(flags.until, '--until', now);
    const apiBase = stripeApiBase(flags);
    const { interruptible } = await import('../interrupt.js');
    const progress = replayProgressReporter(c.stderr, !c.json && Boolean(process.stderr.isTTY));
    const report = await interruptible((signal) =>
      replayStripeEvents({
        databaseUrl: databaseUrl(flags),
        stripeApiKey: stripeApiKey(flags),
        ...(apiBase ? { stripeApiBase: apiBase } : {}),
        ...(sinceMs !== undefined ? { sinceMs } : {}),
        ...(untilMs !== undefined ? { untilMs } : {}),
        types: flags.type,
        ...(flags.limit !== undefined ? { limit: positiveInt(flags.limit, '--limit', { min: 1 }) } : {}),
        resend: Boolean(flags.resend),
        ...(flags.webhookEndpoint !== undefined ? { webhookEndpoint: flags.webhookEndpoint } : {}),
        execute: Boolean(flags.execute),
        log: c.log,
        now,
        signal,
        onProgress: progress.update,
      }),
    ).finally(progress.done);
    c.stdout(c.json ? renderJson(report) : renderStripeEventsReport(report));
    c.exitCode = report.exitCode;
  });

  const list = replay
    .command('list')
    .description('The replay runs recorded, newest first: who (OS user and host), when, source, counts, status')
    .option('--limit <n>', 'how many runs', '20');
  addStoreOptions(list, ['databaseUrl']);
  list.action(async (flags: StoreFlags & { limit: string }) => {
    const c = ctx();
    const { databaseUrl, positiveInt } = await import('../../config.js');
    const { listReplayRuns } = await import('../../ops/replay/runs.js');
    const { renderJson } = await import('../../ui/output.js');
    const { renderReplayList } = await import('../../ui/replay.js');
    const runs = await listReplayRuns(databaseUrl(flags), positiveInt(flags.limit, '--limit', { min: 1, max: 10_000 }));
    c.stdout(c.json ? renderJson(runs) : renderReplayList(runs));
  });

  const show = replay
    .command('show')
    .description('One replay run: its selection, counts, and each message (source topic/partition/offset → destination offset)')
    .argument('<id>', 'the run id (replay list)');
  addStoreOptions(show, ['databaseUrl']);
  show.action(async (id: string, flags: StoreFlags) => {
    const c = ctx();
    const { databaseUrl } = await import('../../config.js');
    const { showReplayRun } = await import('../../ops/replay/runs.js');
    const { renderJson } = await import('../../ui/output.js');
    const { renderReplayShow } = await import('../../ui/replay.js');
    const found = await showReplayRun(databaseUrl(flags), id);
    c.stdout(c.json ? renderJson(found) : renderReplayShow(found));
  });
  return replay;
}

/** --since/--until: an ISO time or a duration ago (15m, 2h), as ms since the epoch. */
async function timeFlag(value: string | undefined, flag: string, now: number): Promise<number | undefined> {
  if (value === undefined) return undefined;
  const { parseTime } = await import('../../ops/tail/start.js');
  const ms = parseTime(value, now);
  if (ms === undefined) {
    const { UsageError } = await import('../../errors.js');
    throw new UsageError(`${flag} must be an ISO time or a duration ago (15m, 2h), got "${value}"`);
  }
  return ms;
}
