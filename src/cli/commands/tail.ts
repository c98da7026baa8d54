import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { addStoreOptions, collect, type StoreFlags } from '../options.js';

interface TailFlags extends StoreFlags {
  all?: boolean;
  dlq?: boolean;
  from: string;
  follow?: boolean;
  count?: string;
  until?: string;
  key?: string;
  type?: string;
  header: string[];
  partition: string[];
  where: string[];
  grep?: string;
}

export function tailCommand(ctx: () => CliContext): Command {
  const command = new Command('tail')
    .summary('show the messages on Kafka topics (CloudEvents and dead-letter headers decoded)')
    .description(
      'Show what is on one or more topics — named (the topic prefix is put in front), by glob, --all, or\n' +
        '--dlq for every dead-letter topic. Read-only: it never commits an offset and never joins the\n' +
        "pipeline's consumer groups; the client reads through a temporary group of its own, deleted when it\n" +
        'ends, Ctrl-C included. Without --follow it stops once it has read each partition up to where it\n' +
        'ended when the tail began. A value that is not JSON is shown as text, one that is not UTF-8 as base64.',
    )
    .argument('[topics...]', 'topic names or globs (orders.*), without the prefix')
    .option('--all', 'every topic under the prefix')
    .option('--dlq', 'every dead-letter topic (<topic>.dlq) under the prefix')
    .option(
      '--from <where>',
      'beginning | end | an ISO time | a duration ago (15m, 2h) | an offset | -N, the last N of each partition;\n' +
        'a time start asks the broker for the offsets at that time, it never scans',
      '-10',
    )
    .option('-f, --follow', 'keep showing new messages until Ctrl-C (or --until passes)')
    .option('--count <n>', 'stop after this many messages (after filtering)')
    .option('--until <time>', 'show nothing written after this ISO time or duration ago')
    .option('--key <glob>', 'only messages whose key matches')
    .option('--type <glob>', 'only messages whose CloudEvents type (ce_type) matches')
    .addOption(new Option('--header <name=glob>', 'only messages with this header matching (repeatable)').argParser(collect).default([]))
    .addOption(new Option('--partition <n>', 'only these partitions (repeatable, or a comma list)').argParser(collect).default([]))
    .addOption(
      new Option('--where <field=glob>', 'only JSON values whose field (a dotted path, e.g. customer.id) matches (repeatable)')
        .argParser(collect)
        .default([]),
    )
    .option('--grep <text>', 'only values that contain this text')
    .addHelpText(
      'after',
      '\nOutput: one line per message on a terminal; with --json one JSON object per line:\n' +
        '  {topic, partition, offset, timestamp, key, headers, ce: {id, type, source, time, ...}, data, valueFormat,\n' +
        '   dataBase64 (a value that is not UTF-8), deadLetter: {...} (dead-letter topics), retry: {...} (retry topics)}\n\n' +
        'Examples:\n' +
        '  paymentsctl tail orders.placed --from beginning --count 5 --json\n' +
        "  paymentsctl tail --dlq --from 1h --where 'order_id=ord_42*'\n" +
        '  paymentsctl tail payments.* --follow --type payments.failed',
    );
  addStoreOptions(command, ['kafkaBrokers', 'topicPrefix']);
  return command.action(async (topics: string[], flags: TailFlags) => {
    const c = ctx();
    const options = await parseFlags(topics, flags);
    const { tail } = await import('../../ops/tail/tail.js');
    const { renderTailJsonLine, renderTailLine, renderTailSummary } = await import('../../ui/tail.js');
    const { interruptible } = await import('../interrupt.js');
    const tty = Boolean(process.stdout.isTTY);
    let interrupted = false;
    const summary = await interruptible((signal) => {
      signal.addEventListener('abort', () => (interrupted = true), { once: true });
      return tail({
        ...options,
        signal,
        log: c.log,
        onRecord: (record) => c.stdout(c.json ? renderTailJsonLine(record) : renderTailLine(record, { truncate: tty })),
      });
    });
    if (!c.json) c.stderr(renderTailSummary(summary));
    // Ctrl-C is how a follow ends; before a plain tail caught up it is an interruption.
    if (interrupted && !options.follow) c.exitCode = 130;
  });
}

async function parseFlags(topics: string[], flags: TailFlags) {
  const { kafkaBrokers, kafkaSecurity, topicPrefix, positiveInt } = await import('../../config.js');
  const { parseStart, parseTime } = await import('../../ops/tail/start.js');
  const { noFilters, parseHeaderFilter, parseWhere } = await import('../../ops/tail/filters.js');
  const { UsageError } = await import('../../errors.js');
  const now = Date.now();
  let untilMs: number | undefined;
  if (flags.until !== undefined) {
    untilMs = parseTime(flags.until, now);
    if (untilMs === undefined) throw new UsageError(`--until must be an ISO time or a duration ago (15m, 2h), got "${flags.until}"`);
  }
  const partitions = flags.partition
    .flatMap((p) => p.split(','))
    .map((p) => positiveInt(p.trim(), '--partition', { min: 0, max: 100_000 }));
  return {
    brokers: kafkaBrokers(flags),
    kafkaSecurity: kafkaSecurity(flags),
    prefix: topicPrefix(flags),
    topics,
    all: Boolean(flags.all),
    dlq: Boolean(flags.dlq),
    start: parseStart(flags.from, now),
    follow: Boolean(flags.follow),
    count: flags.count === undefined ? undefined : positiveInt(flags.count, '--count', { min: 0 }),
    untilMs,
    filters: {
      ...noFilters(),
      ...(flags.key !== undefined ? { key: flags.key } : {}),
      ...(flags.type !== undefined ? { type: flags.type } : {}),
      headers: flags.header.map(parseHeaderFilter),
      ...(partitions.length ? { partitions } : {}),
      where: flags.where.map(parseWhere),
      ...(flags.grep !== undefined ? { grep: flags.grep } : {}),
    },
  };
}
