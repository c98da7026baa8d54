import { Command } from 'commander';
import type { CliContext } from '../context.js';

interface EnsureFlags {
  brokers?: string;
  topicPrefix?: string;
  partitions: string;
  replicationFactor?: string;
  retryLevels: string;
}

export function topicsCommand(ctx: () => CliContext): Command {
  const topics = new Command('topics')
    .summary("create the pipeline's Kafka topics (ensure)")
    .description("Manage the pipeline's Kafka topics");
  topics
    .command('ensure')
    .description(
      'Create the pipeline topics that are missing: orders.placed, payments.completed, payments.failed,\n' +
        'orders.cancelled, payments.refunded, checkout.requested, payments.checkout_session_created, and for\n' +
        'each consumed topic its <topic>.retry.<n> and <topic>.dlq (dead letters never expire). Idempotent.',
    )
    .option('--brokers <list>', 'Kafka brokers, comma separated (default: KAFKA_BROKERS)')
    .option('--topic-prefix <prefix>', 'prefix every topic name (default: KAFKA_TOPIC_PREFIX)')
    .option('--partitions <n>', 'partitions for new topics', '6')
    .option('--replication-factor <n>', 'replicas for new topics (default: min(3, number of brokers))')
    .option('--retry-levels <n>', 'retry topics per consumed topic', '3')
    .action(async (flags: EnsureFlags) => {
      const c = ctx();
      const { kafkaBrokers, topicPrefix, positiveInt } = await import('../../config.js');
      const { ensurePipelineTopics } = await import('../../kafka/ensure.js');
      const { renderJson } = await import('../../ui/output.js');
      const { renderTopics } = await import('../../ui/topics.js');
      const result = await ensurePipelineTopics({
        brokers: kafkaBrokers(flags),
        prefix: topicPrefix(flags),
        partitions: positiveInt(flags.partitions, '--partitions', { max: 10_000 }),
        replicationFactor:
          flags.replicationFactor === undefined ? undefined : positiveInt(flags.replicationFactor, '--replication-factor', { max: 32 }),
        retryLevels: positiveInt(flags.retryLevels, '--retry-levels', { min: 0, max: 10 }),
        log: c.log,
      });
      c.stdout(
        c.json
          ? renderJson({
              created: result.created.map((t) => t.name),
              existing: result.existing,
              underPartitioned: result.underPartitioned,
              topics: [...result.created.map((t) => ({ name: t.name, partitions: t.partitions })), ...result.existing],
            })
          : renderTopics(result),
      );
    });
  return topics;
}
