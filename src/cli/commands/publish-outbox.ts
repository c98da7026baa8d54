import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { addOpsOptions, addSchemaOptions, addStoreOptions, collect, type OpsFlags, type SchemaFlags, type StoreFlags } from '../options.js';
import { UsageError } from '../../errors.js';

interface PublishFlags extends StoreFlags, OpsFlags, SchemaFlags {
  topic?: string[];
  allTopics?: boolean;
  batchSize: string;
  pollInterval: string;
  retain: string;
  maxMessageBytes: string;
  linger: string;
  traceStages?: string;
}

export function publishOutboxCommand(ctx: () => CliContext): Command {
  const command = new Command('publish-outbox')
    .summary('move outbox rows to Kafka (one active publisher per topic across replicas)')
    .description(
      'Publish rows of the outbox table to Kafka in order and mark them published once acknowledged.\n' +
        'Run any number of replicas: one is active per topic (a PostgreSQL session advisory lock on a\n' +
        'dedicated connection); standbys take over when it dies or loses its connection. Wakes on the\n' +
        'outbox NOTIFY; polls only as a fallback. Sends with an idempotent producer (acks=all). A row\n' +
        'Kafka will not take is set aside (last_error) and holds back the later events of its key.\n' +
        'Runs until SIGTERM/SIGINT, then finishes the batch in flight and releases its locks.',
    )
    .option('--topic <topic>', 'outbox topic to publish; repeat for several (default: all topics)', collect)
    .option('--all-topics', 'publish every topic that appears in the outbox (the default)');
  addStoreOptions(command, undefined, { topicPrefix: 'prefix added to the Kafka topic name' })
    .option('--batch-size <n>', 'rows per claim (sent as consecutive requests of at most 900 kB)', '4000')
    .option('--poll-interval <duration>', 'fallback poll when no NOTIFY arrives', '1s')
    .option('--retain <duration>', 'delete published rows older than this; 0 keeps them', '24h')
    .option('--max-message-bytes <n>', 'rows larger than this are set aside, not sent', '1000000')
    .option(
      '--linger <duration>',
      'while events keep arriving, wait up to this long before a claim so they leave in one request (0: never)',
      '6ms',
    )
    .option('--trace-stages <file>', "append each batch's stage timings (claimed, sent, acknowledged, marked) as JSON lines");
  addSchemaOptions(command);
  return addOpsOptions(command, 9464).action(async (flags: PublishFlags) => {
    const c = ctx();
    const options = await parseFlags(flags);
    const { OutboxPublisher } = await import('../../outbox/publisher.js');
    const { runRole } = await import('../run-role.js');
    const { describeSecurity } = await import('../../kafka/security.js');
    c.exitCode = await runRole('publish-outbox', (registry) => new OutboxPublisher({ ...options, registry, log: c.log }), {
      log: c.log,
      ops: options.ops,
      schema: options.schema,
      outageLimitMs: options.outageLimitMs,
      describe: (publisher) => ({
        instance: publisher.instance,
        topics: options.topics ?? 'all',
        prefix: options.topicPrefix || undefined,
        kafka: describeSecurity(options.kafkaSecurity),
      }),
    });
  });
}

async function parseFlags(flags: PublishFlags) {
  if (flags.topic?.length && flags.allTopics) throw new UsageError('--topic and --all-topics cannot be combined');
  const { databaseUrl, kafkaBrokers, kafkaSecurity, topicPrefix, positiveInt, durationMs, schemaGateSettings, outageLimitMs } =
    await import('../../config.js');
  const { opsListener } = await import('../run-role.js');
  const url = databaseUrl(flags);
  return {
    databaseUrl: url,
    schema: schemaGateSettings(flags, [url]),
    brokers: kafkaBrokers(flags),
    kafkaSecurity: kafkaSecurity(flags),
    topicPrefix: topicPrefix(flags),
    topics: flags.topic?.length ? flags.topic : undefined,
    batchSize: positiveInt(flags.batchSize, '--batch-size', { max: 50_000 }),
    pollIntervalMs: durationMs(flags.pollInterval, '--poll-interval', { min: 50 }),
    retainMs: durationMs(flags.retain, '--retain'),
    maxMessageBytes: positiveInt(flags.maxMessageBytes, '--max-message-bytes', { min: 1024 }),
    lingerMs: lingerMs(flags.linger, durationMs),
    stageTraceFile: flags.traceStages,
    ops: opsListener(flags),
    outageLimitMs: outageLimitMs(flags),
  };
}

/** Waiting longer than this before a claim would trade far more latency than it saves in requests. */
function lingerMs(value: string, durationMs: (value: string, flag: string) => number): number {
  const ms = durationMs(value, '--linger');
  if (ms > 1000) throw new UsageError(`--linger must be at most 1s, got "${value}"`);
  return ms;
}
