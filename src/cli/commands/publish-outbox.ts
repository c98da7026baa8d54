import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { collect } from '../options.js';
import { ExitCode, UsageError } from '../../errors.js';

interface PublishFlags {
  topic?: string[];
  allTopics?: boolean;
  databaseUrl?: string;
  brokers?: string;
  topicPrefix?: string;
  batchSize: string;
  pollInterval: string;
  retain: string;
  maxMessageBytes: string;
  metricsHost: string;
  metricsPort: string;
}

export function publishOutboxCommand(ctx: () => CliContext): Command {
  return new Command('publish-outbox')
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
    .option('--all-topics', 'publish every topic that appears in the outbox (the default)')
    .option('--database-url <url>', 'PostgreSQL URL (default: DATABASE_URL)')
    .option('--brokers <list>', 'Kafka brokers (default: KAFKA_BROKERS)')
    .option('--topic-prefix <prefix>', 'prefix added to the Kafka topic name (default: KAFKA_TOPIC_PREFIX)')
    .option('--batch-size <n>', 'rows per claim (sent as consecutive requests of at most 900 kB)', '2000')
    .option('--poll-interval <duration>', 'fallback poll when no NOTIFY arrives', '1s')
    .option('--retain <duration>', 'delete published rows older than this; 0 keeps them', '24h')
    .option('--max-message-bytes <n>', 'rows larger than this are set aside, not sent', '1000000')
    .option('--metrics-host <host>', 'address for /healthz, /readyz, /metrics', '0.0.0.0')
    .option('--metrics-port <port>', 'port for /healthz, /readyz, /metrics; 0 picks a free one', '9464')
    .action(async (flags: PublishFlags) => {
      const c = ctx();
      if (flags.topic?.length && flags.allTopics) throw new UsageError('--topic and --all-topics cannot be combined');
      const { databaseUrl, kafkaBrokers, topicPrefix, positiveInt, durationMs } = await import('../../config.js');
      const { OutboxPublisher } = await import('../../outbox/publisher.js');
      const { createRegistry } = await import('../../metrics.js');
      const { startOpsServer } = await import('../../http/ops-server.js');
      const { runUntilSignalled } = await import('../run-role.js');

      const options = {
        databaseUrl: databaseUrl(flags),
        brokers: kafkaBrokers(flags),
        topicPrefix: topicPrefix(flags),
        topics: flags.topic?.length ? flags.topic : undefined,
        batchSize: positiveInt(flags.batchSize, '--batch-size', { max: 50_000 }),
        pollIntervalMs: durationMs(flags.pollInterval, '--poll-interval', { min: 50 }),
        retainMs: durationMs(flags.retain, '--retain'),
        maxMessageBytes: positiveInt(flags.maxMessageBytes, '--max-message-bytes', { min: 1024 }),
        metricsPort: positiveInt(flags.metricsPort, '--metrics-port', { min: 0, max: 65535 }),
      };
      const registry = createRegistry('publish-outbox');
      const publisher = new OutboxPublisher({ ...options, registry, log: c.log });
      const ops = await startOpsServer({
        host: flags.metricsHost,
        port: options.metricsPort,
        registry,
        ready: () => publisher.isReady(),
        log: c.log,
      });
      publisher.start();
      c.log.info(
        { instance: publisher.instance, topics: options.topics ?? 'all', prefix: options.topicPrefix || undefined, metricsPort: ops.port },
        'publish-outbox started',
      );
      const signal = await runUntilSignalled(async () => {
        await publisher.stop();
        await ops.server.close();
      }, c.log);
      if (signal === 'SIGINT') c.exitCode = ExitCode.interrupted;
    });
}
